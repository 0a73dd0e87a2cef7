"""Collect fine-tuning results from `runs/` and compare them with the LinkBERT paper's tables.

Modules: `families` (which run directories and metric keys make up each paper table), `published`
(the paper's numbers, read from `paper_results.json`), `collect` (read `predict_results.json` of every
run, in the one-run, seed<k>/ and lr<lr>_ep<epochs>/ layouts), `selection` (the grid point chosen on
dev), `blurb_score` (BLURB's task-type average), `comparison` (ours / paper / diff rows; mean ± std
over seeds), `text_formats` (Markdown and CSV), `plot` (grouped bar charts with error bars) and
`pipeline` (all of it, for the command line):

    python scripts/make_tables.py --runs runs/ --output_dir tables/
"""
