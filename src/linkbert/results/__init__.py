"""Collect fine-tuning results from `runs/` and compare them with the LinkBERT paper's tables.

Modules: `families` (which run directories and metric keys make up each paper table), `published`
(the paper's numbers, read from `paper_results.json`), `collect` (read `predict_results.json` of every
run), `blurb_score` (BLURB's task-type average), `table` (ours / paper / diff rows), `render`
(Markdown and CSV), `plot` (grouped bar charts) and `report` (all of it, for the command line):

    python scripts/make_tables.py --runs runs/ --output_dir tables/
"""
