# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A file the collection's modules keep: written only when its content differs, in one rename."""

from __future__ import annotations

import os


def keep_file(path, text, check_mode, mode=0o600, dir_mode=0o700):
    """Make the file at path hold text (None: no file), with mode, its directory made with dir_mode where
    missing; whether that changed it (in check mode: whether it would)."""
    try:
        with open(path) as handle:
            if handle.read() == text:
                return False
    except FileNotFoundError:
        if text is None:
            return False
    if check_mode:
        return True
    if text is None:
        os.remove(path)
        return True
    os.makedirs(os.path.dirname(path), mode=dir_mode, exist_ok=True)
    with open(path + ".new", "w") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(text)
    os.replace(path + ".new", path)
    return True
