"""Start embodied_rag: memory_node + query_node (or both in one process with one_process:=true).

Examples:
  ros2 launch embodied_rag embodied_rag.launch.py memory_dir:=$HOME/memories/lab
  ros2 launch embodied_rag embodied_rag.launch.py image_topic:=/oak/rgb/image_raw pose_topic:=/amcl_pose \
      config:=/path/to/robot.yaml use_sim_time:=true one_process:=true
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    default_config = os.path.join(get_package_share_directory("embodied_rag"), "config", "default.yaml")
    memory_dir = LaunchConfiguration("memory_dir")
    config = LaunchConfiguration("config")
    use_sim_time = LaunchConfiguration("use_sim_time")
    one_process = LaunchConfiguration("one_process")
    sigterm_timeout = LaunchConfiguration("sigterm_timeout")

    args = [
        DeclareLaunchArgument("memory_dir", default_value=os.path.join(os.path.expanduser("~"), ".ros",
                                                                       "embodied_rag", "memory"),
                              description="Memory directory (created, or continued as a new session)."),
        DeclareLaunchArgument("config", default_value=default_config,
                              description="Parameter file (the layout of config/default.yaml)."),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="Use /clock (bag replay)."),
        DeclareLaunchArgument("one_process", default_value="false",
                              description="Run both nodes in one process (embodied_rag_node)."),
        DeclareLaunchArgument("sigterm_timeout", default_value="20",
                              description="Seconds a node may take to stop after Ctrl-C before SIGTERM (the memory "
                                          "node commits its queued keyframes on shutdown)."),
        DeclareLaunchArgument("image_topic", default_value="/camera/image_raw",
                              description="sensor_msgs/Image topic of the camera."),
        DeclareLaunchArgument("compressed_image_topic", default_value="/camera/image_raw/compressed",
                              description="sensor_msgs/CompressedImage topic of the camera."),
        DeclareLaunchArgument("pose_topic", default_value="/odom",
                              description="Robot pose in the map frame: Odometry, PoseStamped or "
                                          "PoseWithCovarianceStamped (e.g. /amcl_pose)."),
        DeclareLaunchArgument("caption_topic", default_value="/embodied_rag/caption",
                              description="embodied_rag_msgs/Caption from an external captioner."),
    ]

    # The nodes subscribe the topics named in the config; remapping them keeps the config file robot-neutral.
    remappings = [
        ("/camera/image_raw", LaunchConfiguration("image_topic")),
        ("/camera/image_raw/compressed", LaunchConfiguration("compressed_image_topic")),
        ("/odom", LaunchConfiguration("pose_topic")),
        ("/embodied_rag/caption", LaunchConfiguration("caption_topic")),
    ]
    parameters = [
        config,
        {
            "memory_dir": ParameterValue(memory_dir, value_type=str),
            "use_sim_time": ParameterValue(use_sim_time, value_type=bool),
        },
    ]

    separate = [
        Node(package="embodied_rag", executable="memory_node", name="memory_node", output="screen",
             parameters=parameters, remappings=remappings, sigterm_timeout=sigterm_timeout,
             condition=UnlessCondition(one_process)),
        Node(package="embodied_rag", executable="query_node", name="query_node", output="screen",
             parameters=parameters, remappings=remappings, sigterm_timeout=sigterm_timeout,
             condition=UnlessCondition(one_process)),
    ]
    combined = Node(package="embodied_rag", executable="embodied_rag_node", output="screen",
                    parameters=parameters, remappings=remappings, sigterm_timeout=sigterm_timeout,
                    condition=IfCondition(one_process))

    return LaunchDescription(args + separate + [combined])
