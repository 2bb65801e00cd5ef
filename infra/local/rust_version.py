"""Part of `make test`: the workspace's `rust-version` is what its dependencies really need.

Reads `cargo metadata` on standard input. Fails when a dependency needs a newer Rust than
`rust-version` says (the promise would be false), or when none needs as new a one as it says
(the requirement would be made up: it held the AWS SDK back once). Prints the answer.
"""

import json
import sys


def version(text):
    return tuple(int(part) for part in (text or "0").split("."))


def main():
    metadata = json.load(sys.stdin)
    ours = {p["id"] for p in metadata["packages"] if p["source"] is None}
    declared = {version(p.get("rust_version")) for p in metadata["packages"] if p["id"] in ours}
    if len(declared) != 1:
        print(f"rust-version: our crates declare different versions: {sorted(declared)}")
        return 1
    (declared,) = declared
    needs = [(version(p.get("rust_version")), p["name"], p["version"]) for p in metadata["packages"] if p["id"] not in ours]
    newest, name, at = max(needs)
    shown = ".".join(map(str, declared))
    needed = ".".join(map(str, newest))
    if newest > declared:
        print(f"rust-version {shown} is too old: {name} {at} needs {needed}")
        return 1
    if newest < declared:
        print(f"rust-version {shown} is more than the dependencies need ({needed}, {name} {at})")
        return 1
    print(f"rust-version {shown}: what {name} {at} needs, the newest requirement among the dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
