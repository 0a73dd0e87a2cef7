"""Create a tiny random BERT checkpoint + WordPiece tokenizer trained on local text files.

python scripts/make_tiny_model.py --text_files demo/sample_data/*/*/train.json --output_dir demo_runs/tiny-bert
"""

from pathlib import Path

from linkbert.cli import ArgumentParser
from linkbert.tools.tiny_bert import build_tiny_bert, texts_from_files


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument(
        "--text_files", nargs="+", required=True, help="JSON-lines or plain-text files to train the vocabulary on"
    )
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--vocab_size", type=int, default=1000)
    parser.add_argument("--hidden_size", type=int, default=32)
    parser.add_argument("--num_layers", type=int, default=2)
    parser.add_argument("--num_heads", type=int, default=2)
    parser.add_argument("--intermediate_size", type=int, default=64)
    parser.add_argument("--cased", action="store_true", help="keep case (LinkBERT is cased, BioLinkBERT lowercased)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in args.text_files:
        if not Path(path).is_file():
            parser.error(f"text file not found: {path}")
    out = build_tiny_bert(
        args.output_dir,
        texts_from_files(args.text_files),
        vocab_size=args.vocab_size,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        intermediate_size=args.intermediate_size,
        lowercase=not args.cased,
        seed=args.seed,
    )
    print(f"wrote tiny BERT to {out}")


if __name__ == "__main__":
    main()
