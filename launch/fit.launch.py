"""Launch lgd_ros' fitting node.

    ros2 launch lgd_ros fit.launch.py
    ros2 launch lgd_ros fit.launch.py namespace:=front params_file:=my.yaml \
        keypoints_topic:=/detector/keypoints camera_info_topic:=/camera/camera_info

Topic arguments remap the node's default topic names, so the parameters file
can stay generic.
"""

from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

try:
    from ament_index_python.packages import get_package_share_directory

    _DEFAULT_PARAMS = str(Path(get_package_share_directory("lgd_ros")) / "config" / "fit.yaml")
except Exception:  # noqa: BLE001 - not installed: use the checkout's copy
    _DEFAULT_PARAMS = str(Path(__file__).resolve().parent.parent / "config" / "fit.yaml")


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node and its topics."),
        DeclareLaunchArgument("params_file", default_value=_DEFAULT_PARAMS,
                              description="ROS parameters YAML for the fitting node."),
        DeclareLaunchArgument("keypoints_topic", default_value="keypoints",
                              description="lgd_ros/PersonKeypointsArray input topic."),
        DeclareLaunchArgument("camera_info_topic", default_value="camera_info",
                              description="sensor_msgs/CameraInfo input topic."),
        DeclareLaunchArgument("bodies_topic", default_value="bodies",
                              description="lgd_ros/FittedBodyArray output topic."),
        DeclareLaunchArgument("log_level", default_value="info", description="Node log level."),
    ]
    node = Node(
        package="lgd_ros",
        executable="fit_node",
        name="lgd_fit_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("params_file")],
        remappings=[
            ("keypoints", LaunchConfiguration("keypoints_topic")),
            ("camera_info", LaunchConfiguration("camera_info_topic")),
            ("bodies", LaunchConfiguration("bodies_topic")),
        ],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        output="screen",
        emulate_tty=True,
    )
    return LaunchDescription([*arguments, node])
