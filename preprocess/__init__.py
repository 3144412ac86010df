"""Raw multilingual text -> the binarized, sharded documents that the ``marge`` task trains on.

Run ``python -m preprocess --help``; see ``preprocess/README.md``.
"""
