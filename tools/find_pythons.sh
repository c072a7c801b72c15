#!/bin/sh
# Find Python interpreters that emtutor supports (3.11 or newer).
#
#   tools/find_pythons.sh --first   the interpreter `make` uses when PYTHON= is not
#                                   given: the first of python3.11, python3.12,
#                                   python3.13, python3 on PATH that runs and is >= 3.11
#   tools/find_pythons.sh --all     one working interpreter per supported minor
#                                   version (3.11, 3.12, 3.13), as "3.12 /path/python3.12",
#                                   from PATH and, where pyenv is installed, its versions
#                                   folder (pyenv's shims exist for versions that are not
#                                   active, so every candidate is run, not just found)
set -u
SUPPORTED="3.11 3.12 3.13"

version_of() {  # print "3.X" if $1 runs and is >= 3.11, else nothing
    "$1" -c 'import sys; v = sys.version_info; print(f"{v[0]}.{v[1]}") if v >= (3, 11) else None' 2>/dev/null
}

case "${1:---first}" in
--first)
    for name in python3.11 python3.12 python3.13 python3; do
        path=$(command -v "$name" 2>/dev/null) || continue
        if [ -n "$(version_of "$path")" ]; then echo "$path"; exit 0; fi
    done
    exit 1 ;;
--all)
    candidates=""
    for v in $SUPPORTED; do
        p=$(command -v "python$v" 2>/dev/null) && candidates="$candidates $p"
    done
    root=${PYENV_ROOT:-$HOME/.pyenv}
    for p in "$root"/versions/3.1[1-9]*/bin/python3; do
        [ -x "$p" ] && candidates="$candidates $p"
    done
    p=$(command -v python3 2>/dev/null) && candidates="$candidates $p"
    seen=""
    for p in $candidates; do
        v=$(version_of "$p")
        [ -n "$v" ] || continue
        case " $SUPPORTED " in *" $v "*) ;; *) continue ;; esac
        case " $seen " in *" $v "*) continue ;; esac
        seen="$seen $v"
        echo "$v $p"
    done ;;
*)
    echo "usage: $0 [--first|--all]" >&2; exit 2 ;;
esac
