"""LinkBERT pretraining (ACL 2022 §3-4), which the original release never published.

    corpus.jsonl --build_pairs--> shards + manifest --run_pretrain--> standard BERT checkpoint

Corpus format: JSON lines, one document per line.

    {"id": "12", "title": "Anarchism", "text": "Anarchism is a political philosophy ...", "links": ["1004", "25"]}

- `id` (string, required, unique): the document's identifier.
- `text` (string, required): the document's text; split into segments by build_pairs.
- `links` (list of ids, optional, default []): documents this one hyperlinks to (Wikipedia) or
  cites (PubMed). Links to ids that are not in the corpus, self-links and repeats are dropped and
  counted; a corpus with no links at all is pretrained with BERT's contiguous/random pairs.
- `title` (string, optional): kept for people; not used in training.
A malformed record stops the run with a DataError naming the file, line and field (duplicate id,
missing text, links not a list of strings).

Converters write this format: src/pretrain/convert_wikipedia.py (WikiExtractor --links output) and
src/pretrain/convert_pubmed.py (pubmed_parser output with cited PMIDs).

Modules, in pipeline order:
    corpus.py    read + validate the corpus, resolve links to indices
    convert.py   Wikipedia / PubMed -> corpus
    segments.py  tokenize and cut documents into segments
    pairs.py     sample contiguous / random / linked pairs (pure; the paper's method lives here)
    shards.py    Arrow shards + manifest
    build.py     the build_pairs command
    model.py     LinkBertForPreTraining: BERT + MLM head + 3-way DRP head
    collator.py  dynamic padding + MLM masking
    stream.py    resumable per-rank instance streams (memory-mapped or datasets streaming)
    args.py, train.py   the run_pretrain command
    demo.py      a tiny end-to-end run on demo/pretrain/ for the demo
"""
