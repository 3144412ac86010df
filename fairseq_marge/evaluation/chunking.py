"""Split long documents into model-sized chunks at line boundaries (paper: 512-token chunks
for document translation, whose outputs are concatenated)."""

from typing import List

PAPER_CHUNK_TOKENS = 512


def chunk_lines(line_pieces: List[List[str]], max_tokens: int = PAPER_CHUNK_TOKENS) -> List[List[str]]:
    """Greedily pack consecutive lines (as sentencepiece pieces) into chunks of at most
    ``max_tokens`` pieces; a single line longer than that is cut into ``max_tokens`` pieces."""
    chunks: List[List[str]] = []
    current: List[str] = []
    for pieces in line_pieces:
        if current and len(current) + len(pieces) > max_tokens:
            chunks.append(current)
            current = []
        while len(pieces) > max_tokens:
            chunks.append(pieces[:max_tokens])
            pieces = pieces[max_tokens:]
        current = current + pieces
    if current:
        chunks.append(current)
    return chunks
