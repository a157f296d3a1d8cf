"""YAML text -> data, with the line of every key: syntax errors located, repeated keys refused.

PyYAML's safe loader keeps the last of two equal keys without a word; a config
file that says ``leverage`` twice is a mistake, so this says so.
"""

from __future__ import annotations

from typing import Any

import yaml

from live_heatmap import ConfigError

__all__ = ["parse_yaml"]


def parse_yaml(text: str, file: str) -> tuple[Any, dict[str, int]]:
    """The document and the line of each key path; syntax errors and repeated keys raise, located."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[str, int] = {}
        if node is None:
            return None, lines
        _index(node, "", lines, set())
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = "; ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        raise ConfigError(None, f"invalid YAML: {problem}", file=file,
                              line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ConfigError(None, f"invalid YAML: {exc}", file=file) from None
    except ConfigError as exc:
        raise exc.within(file=file) from None
    finally:
        loader.dispose()


def _index(node: yaml.Node, path: str, lines: dict[str, int], active: set[int]) -> None:
    if id(node) in active:  # a recursive alias
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            here = f"{path}.{key_node.value}" if path else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                raise ConfigError(here, f"repeated key (lines {first[key_node.value]} and {line})",
                                      line=line, column=key_node.start_mark.column + 1)
            first[key_node.value] = lines[here] = line
            _index(value_node, here, lines, active)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[f"{path}[{i}]"] = item.start_mark.line + 1
            _index(item, f"{path}[{i}]", lines, active)
    active.discard(id(node))
