r"""Build LinkBERT pretraining instances from a linked corpus (JSON lines: id, text, links).

    python src/pretrain/build_pairs.py --corpus data/pretrain/wiki.jsonl --tokenizer bert-base-cased \
        --output_dir data/pretrain/wiki_pairs --max_seq_length 512 --seed 42 --num_shards 256

Writes Arrow shards of [CLS] A [SEP] B [SEP] instances with their relation label (contiguous 0,
random 1, linked 2; 1/3 each, ACL §4) and manifest.json (with the realised mix). --dupe_factor N
gives every anchor segment N independently drawn partners; --num_workers N runs N processes in
bounded memory and gives the same shards for any N. Ablations: --no_diversity (linked document drawn
uniformly instead of by 1/in-degree), --no_links (BERT's contiguous/random 50/50).
See linkbert/pretrain/build.py for the stages and linkbert/pretrain/segments.py for the segments.
"""

import sys

from linkbert.pretrain.build import main as build_main


def main(argv=None) -> int:
    return build_main(argv)


if __name__ == "__main__":
    sys.exit(main())
