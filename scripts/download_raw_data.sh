#!/usr/bin/env bash
# Download the raw benchmark data into raw_data/ (and the in-house MRQA split files into
# scripts/inhouse_splits/), in the layout the preprocessing scripts read.
#
#   bash scripts/download_raw_data.sh preprocessed   # quickest: the original release's data.zip -> data/
#   bash scripts/download_raw_data.sh [mrqa|splits|mmlu|medqa|blurb|all ...]   # default: all (raw data)
#
# `preprocessed` fetches the preprocessed data of every benchmark that the original authors
# published (data.zip, ready for the fine-tuning scripts), unpacks it into data/ and checks that its
# layout is the one the recipes read (python -m linkbert.tools.check_data data). The other parts
# fetch the raw downloads for our own preprocessing scripts.
# mrqa, splits and mmlu are fetched with curl (or wget). MedQA and BLURB cannot be fetched
# unattended (Google Drive; BLURB's per-dataset generation steps), so for those the script prints
# the manual steps and checks whether the files are already in place.
# Files that already exist are kept, so the script can be re-run after an interruption.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

MRQA_URL=https://s3.us-east-2.amazonaws.com/mrqa/release/v2
SPLITS_URL=https://raw.githubusercontent.com/michiyasunaga/LinkBERT/main/scripts/inhouse_splits
MMLU_URL=https://people.eecs.berkeley.edu/~hendrycks/data.tar
MEDQA_DRIVE=https://drive.google.com/file/d/1ImYUSLk9JbgHXOemfvyiDiirluZHPeQw/view
BLURB_URL=https://microsoft.github.io/BLURB/sample_code/data_generation.tar.gz
PREPROCESSED_URL=https://nlp.stanford.edu/projects/myasu/LinkBERT/data.zip

# fetch URL DEST: download to a temporary name, then rename, so an interrupted download never
# looks like a finished file.
fetch() {
    local url=$1 dest=$2
    if [[ -s $dest ]]; then
        echo "exists: $dest"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    echo "downloading $url -> $dest"
    if command -v curl >/dev/null; then
        curl -fL --retry 3 -o "$dest.part" "$url"
    elif command -v wget >/dev/null; then
        wget -O "$dest.part" "$url"
    else
        echo "error: neither curl nor wget is installed" >&2
        exit 1
    fi
    mv "$dest.part" "$dest"
}

# MRQA 2019 v2 release. TriviaQA-web and NaturalQuestionsShort are saved as TriviaQA and
# NaturalQuestions, as the original download script did. The files stay gzipped:
# scripts/preprocess_mrqa.py reads <X>.jsonl.gz as well as <X>.jsonl.
download_mrqa() {
    local part name source
    for part in train dev; do
        for name in SQuAD NewsQA TriviaQA SearchQA HotpotQA NaturalQuestions; do
            case $name in
                TriviaQA) source=TriviaQA-web ;;
                NaturalQuestions) source=NaturalQuestionsShort ;;
                *) source=$name ;;
            esac
            fetch "$MRQA_URL/$part/$source.jsonl.gz" "raw_data/mrqa/$part/$name.jsonl.gz"
        done
    done
}

# The paper's in-house dev/test halves of each MRQA dev set (context-line indices), from the
# original authors' repository. The folder is git-ignored: the files are theirs, not ours.
download_splits() {
    local name
    for name in squad newsqa triviaqa searchqa hotpot naturalqa; do
        fetch "$SPLITS_URL/inhouse_split_$name.json" "scripts/inhouse_splits/inhouse_split_$name.json"
    done
}

download_mmlu() {
    fetch "$MMLU_URL" raw_data/mmlu/data.tar
    tar -xf raw_data/mmlu/data.tar -C raw_data/mmlu
    echo "MMLU extracted under raw_data/mmlu/data/"
}

explain_medqa() {
    mkdir -p raw_data/medqa
    local probe=raw_data/medqa/data_clean/questions/US/4_options/phrases_no_exclude_train.jsonl
    if [[ -f $probe ]]; then
        echo "MedQA: already in place ($probe)"
        return
    fi
    cat <<EOF
MedQA-USMLE needs a manual download:
  1. Following https://github.com/jind11/MedQA, download data_clean.zip from
     $MEDQA_DRIVE
  2. Save it as raw_data/medqa/data_clean.zip and unzip it there:
     (cd raw_data/medqa && unzip data_clean.zip)
  3. Check that $probe exists, then run: python scripts/preprocess_medqa.py
EOF
}

explain_blurb() {
    mkdir -p raw_data/blurb
    local probe=raw_data/blurb/data_generation/data/pubmedqa/test_set.json
    if [[ -f $probe ]]; then
        echo "BLURB: already in place (raw_data/blurb/data_generation/data/)"
        return
    fi
    cat <<EOF
BLURB needs manual steps:
  1. Download and unpack the BLURB data generation code:
     (cd raw_data/blurb && curl -fLO $BLURB_URL && tar -xzf data_generation.tar.gz)
  2. Follow raw_data/blurb/data_generation/README.md; some datasets must be requested or downloaded
     by hand. At the end all 13 datasets are under raw_data/blurb/data_generation/data/.
  3. Run: python scripts/preprocess_blurb.py
EOF
}

# The original release's preprocessed data: unpacked next to data/ first, moved into place only when
# data/ does not exist yet (nothing of the user's is overwritten), then checked.
download_preprocessed() {
    fetch "$PREPROCESSED_URL" raw_data/data.zip
    if [[ -e data ]]; then
        echo "data/ already exists; unpack by hand if you want to replace it: unzip raw_data/data.zip"
    else
        rm -rf raw_data/data.unzip
        mkdir -p raw_data/data.unzip
        unzip -q raw_data/data.zip -d raw_data/data.unzip
        mv raw_data/data.unzip/data data
        rm -rf raw_data/data.unzip
    fi
    local python=python
    if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; fi
    PYTHONPATH=src "${PYTHON:-$python}" -m linkbert.tools.check_data data
}

run_part() {
    case $1 in
        preprocessed) download_preprocessed ;;
        mrqa) download_mrqa ;;
        splits) download_splits ;;
        mmlu) download_mmlu ;;
        medqa) explain_medqa ;;
        blurb) explain_blurb ;;
        all)
            download_mrqa
            download_splits
            download_mmlu
            explain_medqa
            explain_blurb
            ;;
        *)
            echo "usage: bash scripts/download_raw_data.sh [preprocessed|mrqa|splits|mmlu|medqa|blurb|all ...]" >&2
            exit 2
            ;;
    esac
}

main() {
    local part
    mkdir -p raw_data
    for part in "${@:-all}"; do
        run_part "$part"
    done
}

main "$@"
