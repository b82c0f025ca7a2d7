"""What every corpus reader needs: file-safe unique recording ids, and a
layout error that shows the tree the reader expects."""

import re


def unique_recording_id(name, taken):
    """`name` with characters other than letters, digits, `_`, `-`, `.` as
    `_`, made unique among `taken` (ids name files) by `-2`, `-3`, ...;
    the id is added to `taken`."""
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    candidate, count = base, 1
    while candidate in taken:
        count += 1
        candidate = f"{base}-{count}"
    taken.add(candidate)
    return candidate


def layout_error(corpus, root, missing, tree):
    """The error for a root that lacks `corpus`'s layout."""
    return ValueError(f"{root} does not look like {corpus}: {missing}. Expected layout:\n{tree}")
