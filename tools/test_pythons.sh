#!/bin/sh
# The package tests (tests/, without the two tests of the built book, which
# make test runs once) under every supported Python on this machine other than the one .venv
# uses ($1, e.g. 3.11). Each gets its own environment .venv-3.X with the pinned
# requirements. Prints which versions ran and which were absent; fails if any
# run fails.
set -u
used=${1:?usage: tools/test_pythons.sh USED_VERSION}
found=$(sh tools/find_pythons.sh --all)
ran="" absent="" failed=""
for v in 3.11 3.12 3.13; do
    [ "$v" = "$used" ] && continue
    python=$(printf '%s\n' "$found" | awk -v v="$v" '$1 == v { print $2 }')
    if [ -z "$python" ]; then absent="$absent $v"; continue; fi
    echo "== package tests under Python $v ($python)"
    if make --no-print-directory venv VENV=".venv-$v" PYTHON="$python" &&
       ".venv-$v/bin/python" -m pytest tests -n auto --dist loadfile --ignore=tests/test_browser.py --ignore=tests/test_book_serves_no_solutions.py -q -p no:cacheprovider; then
        ran="$ran $v"
    else
        failed="$failed $v"
    fi
done
echo "Python $used: the full make test (.venv)"
echo "other Pythons: ran:${ran:- none}; absent:${absent:- none}; failed:${failed:- none}"
[ -z "$failed" ]
