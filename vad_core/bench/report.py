"""The benchmark's report as text: what `python -m vad_core bench` prints without --json."""

from __future__ import annotations


def format_live(live: dict) -> list[str]:
    """The live figure: each rate's scored frames and delays."""
    lines = [f"live ({live['source']}; {live['model']} at {live['input_size']} px):"]
    for rate, row in live["rates"].items():
        lines.append(
            f"  {rate:>4} fps: {row['scored']}/{row['received']} scored, {row['dropped']} dropped, "
            f"delay median {row['delay_median_s'] * 1000:.0f} ms, p95 {row['delay_p95_s'] * 1000:.0f} ms"
        )
    lines.append(f"  highest rate scored in full: {live['highest_rate_in_full']:g} fps")
    return lines


def format_whole(report: dict) -> list[str]:
    """The whole-process figure: each detector's whole command, then the autoencoder's ratios, first frame, writing
    share and wall split (or why they were skipped)."""
    if "ratios" not in report:
        lines = [f"whole process ({report['clip']}):"]
    else:
        lines = [f"whole process ({report['clip']}; {report['model']} at {report['input_size']} px):"]
    for name, d in report.get("detectors", {}).items():
        default = ", the bundled default" if name == report["default_detector"] else ""
        fps = d["whole_process_fps"]
        lines.append(f"  {name} ({d['kind']}{default}): {fps:.1f} frames/s, the whole command (median round)")
    if "ratios" not in report:
        return [*lines, f"  no reference figures: {report['autoencoder_skipped']}"]
    r, split = report["ratios"], report["wall_split"]
    return [
        *lines,
        f"  whole process vs plain eager forward: {r['whole_process_vs_reference']:.2f}x (median round)",
        f"  in process vs plain eager forward:    {r['in_process_vs_reference']:.2f}x",
        f"  the model alone (fast path, frames in memory): {r['model_alone_vs_reference']:.2f}x",
        f"  first frame after {report['first_frame_s']:.2f} s; writing {report['writing_share']:.1%} of the wall",
        "  wall split (best round): "
        + ", ".join(f"{k} {v:.2f} s ({split['share'][k]:.0%})" for k, v in split["seconds"].items()),
    ]


def format_report(report: dict) -> str:
    """A short human-readable summary."""
    if "frames_per_second" not in report:  # the live or the whole-process figure alone
        alone = format_live(report["live"]) if "live" in report else format_whole(report["whole_process"])
        return "\n".join(alone + [f"acceptance {k}: {'yes' if v else 'NO'}" for k, v in report["acceptance"].items()])
    m, f, r = report["machine"], report["frames_per_second"], report["ratios"]
    lines = [
        f"device: {m.get('gpu') or m['cpu']} ({m['cpu_count']} CPUs, {m['cpu_capability']}), torch {m['torch']}, "
        f"numpy {m['numpy']}, opencv {m['opencv']}, python {m['python']}",
        f"model: {report['model']['input_size']} px, {report['model']['gflop_per_frame']:.2f} GFLOP/frame",
        f"matmul 2048 fp32: {report['matmul_gflops']:.1f} GFLOP/s",
    ]
    lines += [f"{k:>28}: {v:9.1f} frames/s" for k, v in f.items()]
    lines += [f"{k:>40}: {v:6.2f}x" for k, v in r.items() if isinstance(v, float)]
    g = report["model_gflops"]
    lines.append(
        f"model GFLOP/s: reference {g['reference']:.1f} ({g['reference_fraction_of_matmul']:.0%} of matmul), "
        f"optimized {g['optimized']:.1f} ({g['optimized_fraction_of_matmul']:.0%})"
    )
    e = report["equivalence"]
    lines.append(f"max |optimized - reference| = {e['max_abs_diff']:.2e} (tolerance {e['tolerance_abs']:g})")
    if "memory" in report:
        for k, v in report["memory"].items():
            if isinstance(v, dict):
                lines.append(f"memory {k}: {v['frames']} frames, peak RSS {v['peak_rss_mb']:.0f} MB")
        if "growth_mb" in report["memory"]:
            lines.append(f"memory growth: {report['memory']['growth_mb']:.0f} MB")
    if "live" in report:
        lines += format_live(report["live"])
    if "whole_process" in report:
        lines += format_whole(report["whole_process"])
    lines.append(f"peak RSS (bench process): {report['peak_rss_mb']:.0f} MB")
    lines += [f"acceptance {k}: {'yes' if v else 'NO'}" for k, v in report["acceptance"].items()]
    return "\n".join(lines)
