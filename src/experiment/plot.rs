//! report.svg: one panel per (name, client region) with the share of
//! answers per replica in each time bin and the events as labelled
//! vertical lines, then one panel of latency percentiles per name (its
//! policy and TTL in the label). Drawn with plotters' SVG backend.

use std::collections::{BTreeMap, BTreeSet};

use plotters::prelude::*;

use super::config::Experiment;
use super::name_label;
use super::stats::{binned, latencies, Answer};

/// Pixel size of one share panel and of the latency panel's rows.
const PANEL_W: u32 = 420;
const PANEL_H: u32 = 230;
const LATENCY_ROW_H: u32 = 46;
const LATENCY_MIN_H: u32 = 180;
const TITLE_H: u32 = 26;
const EVENT_LINE_H: u32 = 16;
/// Events listed per line under the title.
const EVENTS_PER_LINE: usize = 3;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The whole report as SVG text.
pub fn report(
    exp: &Experiment,
    answers: &[Answer],
    policies: &BTreeMap<String, String>,
) -> Result<String, String> {
    let series = binned(answers, exp.bin_s, exp.duration_s);
    let names: Vec<String> = series
        .keys()
        .map(|(n, _)| n.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let regions: Vec<String> = series
        .keys()
        .map(|(_, r)| r.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let replicas: Vec<String> = series
        .values()
        .flatten()
        .flat_map(|c| c.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let lat = latencies(answers);
    let cols = regions.len().max(1) as u32;
    let rows = names.len().max(1) as u32;
    let lat_h = (LATENCY_ROW_H * lat.len() as u32 + 60).max(LATENCY_MIN_H);
    let width = PANEL_W * cols;
    let event_lines: Vec<String> = exp
        .events
        .chunks(EVENTS_PER_LINE)
        .enumerate()
        .map(|(c, chunk)| {
            let parts: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(k, e)| {
                    let n = c * EVENTS_PER_LINE + k + 1;
                    format!("[{n}] {:.1} s: {}", e.at_s, e.label())
                })
                .collect();
            parts.join("  |  ")
        })
        .collect();
    let header_h = TITLE_H + EVENT_LINE_H * event_lines.len() as u32 + 4;
    let height = header_h + PANEL_H * rows + lat_h;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (header, rest) = root.split_vertically(header_h);
        header
            .draw_text(
                &format!(
                    "tern experiment {}: share of answers per replica over time, per client region",
                    exp.title
                ),
                &("sans-serif", 16).into_text_style(&header),
                (8, 6),
            )
            .map_err(err)?;
        for (i, line) in event_lines.iter().enumerate() {
            let y = TITLE_H + EVENT_LINE_H * i as u32;
            header
                .draw_text(
                    line,
                    &("sans-serif", 12).into_text_style(&header),
                    (8, y as i32),
                )
                .map_err(err)?;
        }
        let (grid, bottom) = rest.split_vertically(PANEL_H * rows);
        let panels = grid.split_evenly((rows as usize, cols as usize));
        for (i, panel) in panels.iter().enumerate() {
            let (Some(name), Some(region)) =
                (names.get(i / cols as usize), regions.get(i % cols as usize))
            else {
                continue;
            };
            let Some(bins) = series.get(&(name.clone(), region.clone())) else {
                continue;
            };
            share_panel(
                exp,
                panel,
                &name_label(name, policies),
                region,
                bins,
                &replicas,
            )?;
        }
        latency_panel(&bottom, &lat, policies)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn colour(replicas: &[String], r: &str) -> RGBColor {
    if r == "-" {
        return RGBColor(150, 150, 150);
    }
    let i = replicas.iter().position(|x| x == r).unwrap_or(0);
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

fn share_panel<DB: DrawingBackend>(
    exp: &Experiment,
    area: &DrawingArea<DB, plotters::coord::Shift>,
    name: &str,
    region: &str,
    bins: &[super::stats::Counts],
    replicas: &[String],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{name} | {region}"), ("sans-serif", 12))
        .margin(6)
        .x_label_area_size(28)
        .y_label_area_size(36)
        .build_cartesian_2d(0f64..exp.duration_s, 0f64..105f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("% of answers")
        .label_style(("sans-serif", 10))
        .draw()
        .map_err(err)?;
    for r in replicas {
        let points: Vec<(f64, f64)> = bins
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let total: usize = c.values().sum();
                (total > 0).then(|| {
                    let mid = (i as f64 + 0.5) * exp.bin_s;
                    let n = c.get(r).copied().unwrap_or(0);
                    (mid.min(exp.duration_s), 100.0 * n as f64 / total as f64)
                })
            })
            .collect();
        if points.iter().all(|(_, y)| *y == 0.0) {
            continue;
        }
        let col = colour(replicas, r);
        chart
            .draw_series(LineSeries::new(points, col.stroke_width(2)))
            .map_err(err)?
            .label(r.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], col.stroke_width(2)));
    }
    for (k, ev) in exp.events.iter().enumerate() {
        let t = ev.at_s;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(t, 0.0), (t, 100.0)],
                BLACK.mix(0.6).stroke_width(1),
            )))
            .map_err(err)?;
        // Numbered as in the list under the title; staggered so nearby
        // events stay readable.
        let y = 104.0 - 7.0 * (k % 3) as f64;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{}", k + 1),
                (t, y),
                ("sans-serif", 10).into_font().color(&BLACK),
            )))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 10))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)?;
    Ok(())
}

fn latency_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    lat: &BTreeMap<String, super::stats::Latency>,
    policies: &BTreeMap<String, String>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let max = lat
        .values()
        .map(|l| l.p99)
        .fold(1.0f64, f64::max)
        .mul_add(1.15, 0.0);
    let rows = lat.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "answer latency per name (policy, ttl): p50 (blue), p90 (orange), p99 (red), ms",
            ("sans-serif", 13),
        )
        .margin(10)
        .x_label_area_size(28)
        .y_label_area_size(10)
        .build_cartesian_2d(0f64..max, 0f64..rows)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_labels(0)
        .disable_y_mesh()
        .x_desc("milliseconds")
        .label_style(("sans-serif", 10))
        .draw()
        .map_err(err)?;
    let bars = [
        (RGBColor(60, 110, 200), 0usize),
        (RGBColor(240, 150, 40), 1),
        (RGBColor(210, 50, 50), 2),
    ];
    for (i, (name, l)) in lat.iter().enumerate() {
        let base = rows - 1.0 - i as f64;
        let values = [l.p50, l.p90, l.p99];
        for (col, k) in bars {
            let v = values.get(k).copied().unwrap_or(0.0);
            let y0 = base + 0.08 + 0.2 * k as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y0), (v, y0 + 0.18)],
                    col.filled(),
                )))
                .map_err(err)?;
        }
        let label = format!(
            "{}: p50 {:.1}  p90 {:.1}  p99 {:.1} ms",
            name_label(name, policies),
            l.p50,
            l.p90,
            l.p99
        );
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (max * 0.01, base + 0.95),
                ("sans-serif", 11).into_font().color(&BLACK),
            )))
            .map_err(err)?;
    }
    Ok(())
}
