"""MkDocs hooks (mkdocs.yml ``hooks:``): the configuration reference, written at build time from the config's
own tables, and the navigation in reading order over whatever pages docs/ holds.

The reference takes each key's section and default from the dataclasses in
``lateral/config.py``, its allowed values from the sections' ``RULES`` and
``RELATIONS`` (``lateral/config_rules.py``), and its meaning from
``docs/config_keys.yaml``; a key without a meaning, or a meaning without a key,
fails the build, so the page cannot drift from the code.
"""

import dataclasses
import typing
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MEANINGS = ROOT / "docs" / "config_keys.yaml"
REFERENCE = "configuration.md"
# Reading order; pages not listed (another helper's, a new one) follow in name order, missing ones are skipped.
ORDER = ("index.md", "guide.md", "review.md", "reading_results.md", REFERENCE, "formats.md", "guarantees.md",
         "matching.md", "open_set.md", "catalogue.md", "reliability.md", "multi_worker.md", "fs48.md", "benchmarks.md",
         "development.md")


def _value(value):
    if isinstance(value, tuple):
        value = list(value)
    return f"`{yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}`"


def _default(field):
    if field.default is not dataclasses.MISSING:
        return "—" if field.default is None else _value(field.default)
    if field.default_factory is not dataclasses.MISSING:
        return _value(field.default_factory())
    return "required"


def _allowed(section, name, hint):
    from lateral.config_rules import Registered
    from lateral.training.registered_names import known_names

    rule = section.RULES.get(name)
    if isinstance(rule, Registered):  # list the registry's names
        return "one of " + ", ".join(f"`{known}`" for known in known_names(rule.family))
    if rule is not None:
        return str(rule)
    if hint is bool:
        return "`true` or `false`"
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in typing.get_args(hint))
    return ""


def config_reference():
    """The configuration reference page, in Markdown."""
    from lateral.quiet import quiet_unless_verbose

    quiet_unless_verbose([])  # the registries' names import TensorFlow: without its start-up chatter
    from lateral.config import ALIASES, FLAT_SECTIONS, NESTED_SECTIONS, SECTION_OF_KEY

    meanings = yaml.safe_load(MEANINGS.read_text(encoding="utf-8"))
    lines = ["# Configuration reference", "",
             "Generated from `lateral/config.py` (keys, sections, defaults), its `RULES` and `RELATIONS` "
             "(`lateral/config_rules.py`) and `docs/config_keys.yaml` (meanings) each time the site is built.", "",
             "A config is a YAML file of sections. The keys of `run`, `data`, `model`, `head`, `optimiser`, `iom` "
             "and `evaluation` may be written at the top level (`base_lr: 0.1`, the original project's flat form) or "
             "under their section's name (`optimiser: {base_lr: 0.1}`); `preprocess:` and `augment:` are always "
             "nested mappings. A config may start from another (`base:`, below). It is checked "
             "once at start-up: an unknown key, a wrong type, a missing required key or a value outside its "
             "allowed set stops the command with exit code 2 and one line naming the key, the value and what "
             "is allowed (`'q' must be >= 2, got 1`). Numbers must be finite; `1e-3` is read as a number. "
             "Reading a config loads no TensorFlow; the registered names (`backbone_type`, `head_type`, "
             "`metric_loss`) are checked against their registries when training starts, before any work.", ""]
    unexplained = []
    for name, section in {**FLAT_SECTIONS, **NESTED_SECTIONS}.items():
        nested = name in NESTED_SECTIONS
        said = dict(meanings.pop(name, {}))
        hints = typing.get_type_hints(section)
        lines += [f"## `{name}`" + (" (nested: `" + name + ":`)" if nested else ""), "",
                  (section.__doc__ or "").strip().splitlines()[0], "",
                  "| key | default | allowed | meaning |", "|---|---|---|---|"]
        for field in dataclasses.fields(section):
            key = field.metadata.get("key", field.name)
            if key not in said:
                unexplained.append(f"{name}.{key}")
                continue
            shown = f"{name}.{key}" if nested else key
            lines.append(f"| `{shown}` | {_default(field)} | {_allowed(section, field.name, hints[field.name])} | "
                         f"{said.pop(key)} |")
        unexplained += [f"{name}.{key} (no such key)" for key in said]
        yaml_keys = {field.name: field.metadata.get("key", field.name) for field in dataclasses.fields(section)}
        relations = [f"- `{yaml_keys[relation.keys[0]]}` {relation.says}" for relation in section.RELATIONS]
        lines += [""] + (["Between keys:", ""] + relations + [""] if relations else [])
    lines += ["## `base:` another config", "",
              "`base: fs48_stage1.yaml` (a path relative to the file) reads that config first; this file's keys "
              "then replace its keys one by one (a nested `preprocess:` or `augment:` key too), and the base may "
              "name its own base. A base that is missing, or that leads back to a file already read, stops the "
              "command naming the file. `configs/fs48_stage1_imagenet.yaml` is an example: `configs/fs48_stage1.yaml` "
              "with another `sub_name` and `weights: imagenet`. A run folder stores the merged config.", ""]
    lines += ["## Old names", "",
              "Read as their new name, with a warning naming the file and the new name (a run folder's stored "
              "config.yaml from before the rename still loads):", "",
              "| old key | new key |", "|---|---|"]
    lines += [f"| `{old}` | `{SECTION_OF_KEY[new]}.{new}` |" for old, new in ALIASES.items()] + [""]
    unexplained += [f"{name} (no such section)" for name in meanings]
    if unexplained:
        raise ValueError(f"{MEANINGS}: the meanings do not match the config's keys: {', '.join(unexplained)}")
    return "\n".join(lines)


def on_config(config):
    """The navigation: ORDER's pages that exist, then any other page."""
    docs = Path(config.docs_dir)
    pages = sorted(str(path.relative_to(docs)) for path in docs.rglob("*.md"))
    present = [page for page in ORDER if page in pages or page == REFERENCE]
    config.nav = present + [page for page in pages if page not in present]
    return config


def on_files(files, config):
    from mkdocs.structure.files import File

    files.append(File.generated(config, REFERENCE, content=config_reference()))
    return files
