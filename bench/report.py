"""What every benchmark prints: percentiles and a plain-text table."""


def percentile(values, pct):
    """Nearest-rank percentile of ``values`` (seconds) -> milliseconds."""
    if not values:
        return float('nan')
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100)
    return ordered[int(rank) - 1] * 1000.0


def table(header, rows):
    """Columns padded to their widest cell, the first left-aligned."""
    widths = [max(len(str(r[c])) for r in [header] + rows) for c in range(len(header))]
    lines = []
    for n, row in enumerate([header] + rows):
        cells = [str(row[0]).ljust(widths[0])] + [str(v).rjust(w) for v, w in
                                                  zip(row[1:], widths[1:])]
        lines.append(' | '.join(cells))
        if n == 0:
            lines.append('-+-'.join('-' * w for w in widths))
    return '\n'.join(lines)
