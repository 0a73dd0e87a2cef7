"""Turn the raw benchmark downloads into the JSON-lines splits the fine-tuning scripts read.

One module per source, each a set of importable functions that the thin CLIs in scripts/ call
(run from the repository root, after `bash scripts/download_raw_data.sh all`):

    python scripts/preprocess_mrqa.py    # raw_data/mrqa  -> data/qa/<d>_hf/{train,dev,test}.json
    python scripts/preprocess_blurb.py   # raw_data/blurb -> data/{seqcls,tokcls}/<task>_hf/{train,dev,test}.json
    python scripts/preprocess_medqa.py   # raw_data/medqa -> data/mc/medqa_usmle_hf/{train,dev,test}.json
    python scripts/preprocess_mmlu.py    # raw_data/mmlu  -> data/mc/mmlu_hf/professional_medicine/{dev,val,test}.json

The records, their field order and their values are those of the original LinkBERT preprocessing
scripts; `common` holds what the four share (reading plain or gzipped text, column checks, all-or-nothing
writing of a dataset's split files, and the printed summary).
"""
