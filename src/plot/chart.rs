//! Line charts: panels of series against a shared x, laid out in a grid (Ultralytics'
//! `results.png`). A logarithmic axis is drawn by plotting `log10` of the values and labelling
//! the ticks with the values again, which keeps one coordinate type for every panel.

use plotters::prelude::*;

use super::{Area, Canvas, FONT, PlotError, color, draw_canvas};

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Line,
    Points,
    LinePoints,
}

/// One named series of `(x, y)` points; non-finite points are left out.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
}

impl Series {
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series { name: name.into(), points, style: Style::LinePoints }
    }
}

/// One panel.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub log_x: bool,
    pub log_y: bool,
    /// Names for the integer x positions `0, 1, …` instead of numbers (parallel coordinates,
    /// one trial per position).
    pub x_ticks: Option<Vec<String>>,
}

/// Panels of `panel` pixels each, `columns` to a row.
pub fn charts(panels: &[Chart], columns: usize, panel: (u32, u32)) -> Result<Canvas, PlotError> {
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let size = (panel.0 * columns as u32, panel.1 * rows as u32);
    draw_canvas(size, "a chart", |root| {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let areas = root.split_evenly((rows, columns));
        for (area, chart) in areas.iter().zip(panels) {
            draw_chart(area, chart)?;
        }
        Ok(())
    })
}

/// A value on an axis: `log10` of it on a logarithmic one (`None` where that is undefined).
fn axis(v: f64, log: bool) -> Option<f64> {
    let v = if log { (v > 0.0).then(|| v.log10())? } else { v };
    v.is_finite().then_some(v)
}

/// The axis range of `values`, padded by 5 % (and widened when flat).
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return None;
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { lo.abs().max(1.0) * 0.05 };
    Some((lo - pad, hi + pad))
}

/// Tick text of a value on an axis.
fn tick(v: f64, log: bool) -> String {
    let v = if log { 10f64.powf(v) } else { v };
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) { format!("{v:.1e}") } else { format!("{}", (v * 1e4).round() / 1e4) }
}

fn draw_chart(area: &Area, chart: &Chart) -> Result<(), String> {
    let series: Vec<(&Series, Vec<(f64, f64)>)> = chart
        .series
        .iter()
        .map(|s| {
            let pts = s.points.iter().filter_map(|&(x, y)| Some((axis(x, chart.log_x)?, axis(y, chart.log_y)?)));
            (s, pts.collect())
        })
        .collect();
    let xs = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let ys = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
    let mut builder = ChartBuilder::on(area);
    builder.caption(&chart.title, (FONT, 18)).margin(10).x_label_area_size(36).y_label_area_size(58);
    let (Some(xs), Some(ys)) = (xs, ys) else {
        let mut c = builder.build_cartesian_2d(0.0..1.0, 0.0..1.0).map_err(|e| e.to_string())?;
        c.configure_mesh().disable_mesh().draw().map_err(|e| e.to_string())?;
        return area.draw_text("no data", &(FONT, 14).into_text_style(area), (60, 60)).map_err(|e| e.to_string());
    };
    let mut c = builder.build_cartesian_2d(xs.0..xs.1, ys.0..ys.1).map_err(|e| e.to_string())?;
    let (log_x, log_y) = (chart.log_x, chart.log_y);
    let names = chart.x_ticks.clone();
    let x_fmt = move |v: &f64| match &names {
        Some(names) if (v - v.round()).abs() < 1e-6 => names.get(v.round() as usize).cloned().unwrap_or_default(),
        Some(_) => String::new(),
        None => tick(*v, log_x),
    };
    let x_count = chart.x_ticks.as_ref().map_or(8, |n| n.len() * 4 + 1);
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_labels(x_count)
        .y_labels(6)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|v| tick(*v, log_y))
        .label_style((FONT, 12))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (s, pts)) in series.into_iter().enumerate() {
        draw_series(&mut c, s, pts, color(i))?;
    }
    if chart.series.len() > 1 {
        c.configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

type Cartesian<'a> = ChartContext<
    'a,
    BitMapBackend<'a>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn draw_series(c: &mut Cartesian, s: &Series, pts: Vec<(f64, f64)>, col: RGBColor) -> Result<(), String> {
    let style = ShapeStyle::from(col).stroke_width(2);
    let legend = move |(x, y): (i32, i32)| PathElement::new(vec![(x, y), (x + 16, y)], style);
    if s.style != Style::Points {
        c.draw_series(LineSeries::new(pts.clone(), style))
            .map_err(|e| e.to_string())?
            .label(s.name.clone())
            .legend(legend);
    }
    if s.style != Style::Line {
        let dots =
            c.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, col.filled()))).map_err(|e| e.to_string())?;
        if s.style == Style::Points {
            dots.label(s.name.clone()).legend(move |(x, y)| Circle::new((x + 8, y), 3, col.filled()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_pad_and_widen_flat_data() {
        assert_eq!(range([1.0, 3.0].into_iter()), Some((0.9, 3.1)));
        assert_eq!(range([2.0].into_iter()), Some((1.9, 2.1)));
        assert_eq!(range(std::iter::empty()), None);
    }

    #[test]
    fn log_axes_drop_what_has_no_logarithm() {
        assert_eq!(axis(100.0, true), Some(2.0));
        assert_eq!(axis(0.0, true), None);
        assert_eq!(axis(f64::NAN, false), None);
        assert_eq!(tick(-4.0, true), "1.0e-4");
        assert_eq!(tick(-2.0, true), "0.01");
        assert_eq!(tick(0.25, false), "0.25");
    }
}
