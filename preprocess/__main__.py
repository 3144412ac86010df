import logging
import sys

# before anything imports fairseq, whose import otherwise leaves the root logger at DEBUG (faiss
# and matplotlib then log their start-up); main() sets the final format
logging.basicConfig(level=logging.INFO, stream=sys.stderr)

from preprocess.cli import main  # noqa: E402

main()
