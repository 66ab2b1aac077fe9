#!/usr/bin/env python3
"""Lists a crate's public API from rustdoc's JSON output, one item a line, sorted.

Usage: public_api.py CRATE.json > CRATE-public-api.txt

The listing is what a user of the crate can name: modules, types, functions, constants, macros,
public fields and variants, inherent methods, trait items, and the traits each public type
implements (auto traits and blanket implementations left out). Committed next to each library
crate, it turns any change to the public API into a visible diff in review (`.ci/run` fails when
the committed listing is stale).
"""

import json
import sys

AUTO_TRAITS = {"Send", "Sync", "Unpin", "UnwindSafe", "RefUnwindSafe", "Freeze"}


def type_name(ty):
    """A short rendering of a rustdoc JSON type: enough to tell implementations apart."""
    if not isinstance(ty, dict):
        return "?"
    if "resolved_path" in ty:
        path = ty["resolved_path"]
        return path.get("path") or path.get("name") or "?"
    if "generic" in ty:
        return ty["generic"]
    if "primitive" in ty:
        return ty["primitive"]
    if "borrowed_ref" in ty:
        return "&" + type_name(ty["borrowed_ref"]["type"])
    if "slice" in ty:
        return "[" + type_name(ty["slice"]) + "]"
    if "tuple" in ty:
        return "(" + ", ".join(type_name(t) for t in ty["tuple"]) + ")"
    return next(iter(ty), "?")


class Lister:
    def __init__(self, doc):
        self.index = doc["index"]
        self.lines = set()
        self.seen = set()

    def item(self, item_id):
        return self.index.get(str(item_id))

    def add(self, kind, path):
        self.lines.add(f"{kind} {path}")

    def walk(self, item_id, path):
        item = self.item(item_id)
        if item is None or (item_id, path) in self.seen:
            return
        self.seen.add((item_id, path))
        kind, inner = next(iter(item["inner"].items()))
        name = item.get("name")
        here = f"{path}::{name}" if path and name else (name or path)
        if kind == "use":
            target = inner.get("id")
            if inner.get("is_glob"):
                module = self.item(target) if target is not None else None
                if module and "module" in module["inner"]:
                    for child in module["inner"]["module"]["items"]:
                        self.walk(child, path)
                return
            if target is not None and self.item(target) is not None:
                alias = inner["name"]
                renamed = dict(self.item(target), name=alias)
                self.walk_item(renamed, f"{path}::{alias}", target)
            else:
                self.add("pub use", f"{path}::{inner['name']} = {inner['source']}")
            return
        self.walk_item(item, here, item_id)

    def walk_item(self, item, here, item_id):
        kind, inner = next(iter(item["inner"].items()))
        if kind == "module":
            self.add("mod", here)
            for child in inner["items"]:
                self.walk(child, here)
        elif kind == "struct":
            self.add("struct", here)
            struct_kind = inner["kind"]
            if isinstance(struct_kind, dict):
                for fields in struct_kind.values():
                    for field in fields if isinstance(fields, list) else fields.get("fields", []):
                        if field is not None:
                            field_item = self.item(field)
                            if field_item and field_item.get("visibility") == "public":
                                self.add("field", f"{here}.{field_item['name']}")
            self.impls(inner["impls"], here)
        elif kind == "enum":
            self.add("enum", here)
            for variant in inner["variants"]:
                self.add("variant", f"{here}::{self.item(variant)['name']}")
            self.impls(inner["impls"], here)
        elif kind == "union":
            self.add("union", here)
            self.impls(inner["impls"], here)
        elif kind == "trait":
            self.add("trait", here)
            for child in inner["items"]:
                child_item = self.item(child)
                child_kind = next(iter(child_item["inner"]))
                self.add(f"trait {child_kind}", f"{here}::{child_item['name']}")
        else:
            self.add(kind, here)

    def impls(self, impl_ids, here):
        for impl_id in impl_ids:
            impl_item = self.item(impl_id)
            if impl_item is None:
                continue
            impl = impl_item["inner"]["impl"]
            if impl.get("is_synthetic") or impl.get("blanket_impl") is not None:
                continue
            trait = impl.get("trait")
            if trait is None:
                for child in impl["items"]:
                    child_item = self.item(child)
                    if child_item and child_item.get("visibility") == "public":
                        child_kind = next(iter(child_item["inner"]))
                        self.add(f"method {child_kind}", f"{here}::{child_item['name']}")
            else:
                name = trait.get("path") or trait.get("name")
                if name.split("::")[-1] not in AUTO_TRAITS:
                    self.add("impl", f"{name} for {here}")


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    lister = Lister(doc)
    root = lister.item(doc["root"])
    lister.add("crate", root["name"])
    for child in root["inner"]["module"]["items"]:
        lister.walk(child, root["name"])
    for line in sorted(lister.lines):
        print(line)


if __name__ == "__main__":
    main()
