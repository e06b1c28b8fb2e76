"""A network's layers as a table: what ``Sequential.summary`` and ``layerkit inspect`` show."""

from __future__ import annotations

from typing import Any


def layer_table(rows: list[tuple[int, str, dict[str, Any], dict[str, Any]]]) -> list[str]:
    """One aligned line per layer, from ``(index, description, {parameter: shape},
    {state attribute: shape})``: the layer, its parameters' shapes and count, its state."""
    heads = [f"    {i:>2}  {description}" for i, description, _, _ in rows]
    shapes = [shapes_text(arrays) for _, _, arrays, _ in rows]
    counts = [count_text(parameter_count(arrays)) for _, _, arrays, _ in rows]
    widths = [max(map(len, column), default=0) for column in (heads, shapes, counts)]
    lines = []
    for head, shape, count, (_, _, _, state) in zip(heads, shapes, counts, rows, strict=True):
        kept = f"  state: {shapes_text(state)}" if state else ""
        line = f"{head:<{widths[0]}}  {shape:<{widths[1]}}  {count:>{widths[2]}}{kept}"
        lines.append(line.rstrip())
    return lines


def parameter_count(arrays: dict[str, Any]) -> int:
    total = 0
    for shape in arrays.values():
        size = 1
        for n in shape:
            size *= int(n)
        total += size
    return total


def shapes_text(arrays: dict[str, Any]) -> str:
    """``W 64x10, b 10, T scalar``: each array's name and shape."""
    return ", ".join(
        f"{name} {'x'.join(map(str, shape)) if len(shape) else 'scalar'}"
        for name, shape in arrays.items()
    )


def count_text(n: int) -> str:
    return "" if not n else f"{n:,} parameter{'' if n == 1 else 's'}"
