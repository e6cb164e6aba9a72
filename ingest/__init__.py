"""Turn corpus files into search documents: load → clean → normalise → segment → cite → tokenise."""
