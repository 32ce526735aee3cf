from glob import glob

from setuptools import find_packages, setup

PACKAGE = "embodied_rag"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["data/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="embodied_rag maintainers",
    maintainer_email="maintainers@embodied-rag.invalid",
    description="Embodied memory with retrieval-augmented generation for ROS 2.",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={
        "console_scripts": [
            "embodied-rag = embodied_rag.cli:main",
            "memory_node = embodied_rag.ros.memory_node:main",
            "query_node = embodied_rag.ros.query_node:main",
            "embodied_rag_node = embodied_rag.ros.combined:main",
        ],
    },
)
