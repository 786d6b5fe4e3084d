"""What a preparation run did: counts, a readable summary and a QC montage."""

from collections import Counter, defaultdict

import cv2
import numpy as np

MONTAGE_TILES = 40
MONTAGE_COLUMNS = 5


def summarise(records):
    by_fish = defaultdict(Counter)
    by_session = defaultdict(Counter)
    for record in records:
        by_fish[record["label"]][record["status"]] += 1
        by_session[record["session"]][record["status"]] += 1
    ok = [record for record in records if record["status"] == "ok"]
    return {
        "photos": len(records),
        "ok": len(ok),
        "rejected": len(records) - len(ok),
        "by_reason": dict(sorted(Counter(r["reason"] for r in records if r["status"] != "ok").items())),
        "by_flank": dict(sorted(Counter(r["flank"] for r in ok).items())),
        "by_fish": {label: dict(counts) for label, counts in sorted(by_fish.items())},
        "by_session": {session: dict(counts) for session, counts in sorted(by_session.items())},
    }


def format_summary(summary):
    lines = [f"{summary['photos']} photos: {summary['ok']} ok, {summary['rejected']} rejected"]
    lines += [f"  rejected, {reason}: {count}" for reason, count in summary["by_reason"].items()]
    lines.append("  flanks: " + ", ".join(f"{flank} {count}" for flank, count in summary["by_flank"].items()))
    for title, key in (("session", "by_session"), ("fish", "by_fish")):
        rows = summary[key]
        lines.append(f"  per {title} (ok/rejected): " + ", ".join(
            f"{name or '-'} {counts.get('ok', 0)}/{counts.get('rejected', 0)}" for name, counts in rows.items()
        ))
    if summary.get("ignored"):
        lines.append(f"  ignored: {len(summary['ignored'])} items not in the layout {summary['layout']} "
                     "(listed above and in summary.json)")
    return "\n".join(lines)


def write_montage(path, out_dir, ok_records):
    """A grid of ROIs spread over the dataset, each captioned with its fish and flank."""
    if not ok_records:
        return
    picks = np.linspace(0, len(ok_records) - 1, min(MONTAGE_TILES, len(ok_records))).round().astype(int)
    tiles = []
    for index in picks:
        record = ok_records[index]
        tile = cv2.imread(str(out_dir / record["roi_image"]), cv2.IMREAD_COLOR)
        if tile is None:  # a ROI file changed by hand since: leave it out of the picture
            continue
        tile = cv2.resize(tile, (192, max(1, round(192 * tile.shape[0] / tile.shape[1]))))
        caption = np.full((18, tile.shape[1], 3), 255, np.uint8)
        cv2.putText(caption, f"{record['label']} {record['flank']}", (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.vstack([tile, caption]))
    if not tiles:
        return
    height = max(tile.shape[0] for tile in tiles)
    tiles = [np.pad(tile, ((0, height - tile.shape[0]), (2, 2), (0, 0)), constant_values=255) for tile in tiles]
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % MONTAGE_COLUMNS)
    rows = [np.hstack(tiles[i : i + MONTAGE_COLUMNS]) for i in range(0, len(tiles), MONTAGE_COLUMNS)]
    path.write_bytes(cv2.imencode(".png", np.vstack(rows))[1].tobytes())  # a failed write raises (imwrite is silent)
