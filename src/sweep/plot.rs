//! Plots of a sweep, as SVG text (no drawing crate; the command writes the files into
//! `plots/`): the objective per trial with the best so far, the objective against each swept
//! parameter (a log axis for `log` ranges, one slot per value for choices), and parallel
//! coordinates over every parameter and the objective, each line coloured by its objective.

use std::fmt::Write;

use super::{Dim, Domain, Mode, Trial};

const W: f64 = 640.0;
const H: f64 = 400.0;
const M: f64 = 56.0;

/// A parallel-coordinates axis: its name, its range and the labels of its ends.
type Axis = (String, (f64, f64), (String, String));

/// An SVG canvas with the plot area `[M, W - M] × [M, H - M]`.
struct Svg(String);

impl Svg {
    fn new(title: &str) -> Svg {
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>",
            W / 2.0,
            escape(title)
        );
        Svg(s)
    }

    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), style: &str) {
        let _ = writeln!(self.0, "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" {style}/>");
    }

    fn text(&mut self, (x, y): (f64, f64), anchor: &str, text: &str) {
        let _ = writeln!(self.0, "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>", escape(text));
    }

    fn dot(&mut self, (x, y): (f64, f64), fill: &str) {
        let _ = writeln!(self.0, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{fill}\"/>");
    }

    /// Axes with the lowest and highest value written at each end.
    fn axes(&mut self, x: (&str, &str, &str), y: (&str, &str, &str)) {
        let axis = "stroke=\"black\"";
        self.line((M, H - M), (W - M, H - M), axis);
        self.line((M, M), (M, H - M), axis);
        self.text((M, H - M + 16.0), "start", x.1);
        self.text((W - M, H - M + 16.0), "end", x.2);
        self.text((W / 2.0, H - 12.0), "middle", x.0);
        self.text((M - 4.0, H - M), "end", y.1);
        self.text((M - 4.0, M + 4.0), "end", y.2);
        self.text((M, M - 8.0), "start", y.0);
    }

    fn finish(mut self) -> String {
        self.0.push_str("</svg>\n");
        self.0
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn range(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

fn scale(v: f64, (lo, hi): (f64, f64), (a, b): (f64, f64)) -> f64 {
    a + (v - lo) / (hi - lo) * (b - a)
}

/// A colour from green (best) to red (worst).
fn colour(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    format!("rgb({},{},60)", (40.0 + 200.0 * t) as u8, (180.0 - 140.0 * t) as u8)
}

fn short(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-2 || x.abs() >= 1e4) { format!("{x:.2e}") } else { format!("{x:.3}") }
}

/// A parameter's plotting coordinate and its axis ends' labels.
fn param_axis(d: &Dim) -> (bool, (f64, f64), (String, String)) {
    let (lo, hi) = d.domain.bounds();
    match &d.domain {
        Domain::Choice { values } => (
            false,
            (-0.5, values.len() as f64 - 0.5),
            (
                values.first().map_or(String::new(), |v| v.text.clone()),
                values.last().map_or(String::new(), |v| v.text.clone()),
            ),
        ),
        Domain::Float { log, .. } | Domain::Int { log, .. } => {
            let shown = |c: f64| if *log { c.exp() } else { c };
            (*log, (lo, hi), (short(shown(lo)), short(shown(hi))))
        }
    }
}

/// Every plot of a sweep, as `(file name, SVG)`.
pub fn plots(dims: &[Dim], trials: &[Trial], objective: &str, mode: Mode) -> Vec<(String, String)> {
    let done: Vec<&Trial> = trials.iter().filter(|t| t.status.finished() && t.objective.is_some()).collect();
    let values: Vec<f64> = done.iter().filter_map(|t| t.objective).collect();
    let yr = range(values.iter().copied());
    let mut out = vec![("objective.svg".to_string(), per_trial(&done, objective, mode, yr))];
    for (k, d) in dims.iter().enumerate() {
        out.push((format!("objective-{}.svg", d.path.replace('.', "_")), against(d, k, &done, objective, yr)));
    }
    out.push(("parallel.svg".to_string(), parallel(dims, &done, objective, mode, yr)));
    out
}

fn per_trial(done: &[&Trial], objective: &str, mode: Mode, yr: (f64, f64)) -> String {
    let mut svg = Svg::new(&format!("{objective} per trial"));
    let last = done.iter().map(|t| t.id).max().unwrap_or(1).max(1) as f64;
    svg.axes(("trial", "0", &last.to_string()), (objective, &short(yr.0), &short(yr.1)));
    let at = |t: &Trial, v: f64| (scale(t.id as f64, (0.0, last), (M, W - M)), scale(v, yr, (H - M, M)));
    let mut best: Option<(f64, f64)> = None;
    for t in done {
        let v = t.objective.unwrap_or(0.0);
        svg.dot(at(t, v), "steelblue");
        let b = best.map_or(v, |(_, b)| if mode.better(v, b) { v } else { b });
        let p = at(t, b);
        if let Some((x0, b0)) = best {
            let q = (x0, scale(b0, yr, (H - M, M)));
            svg.line(q, (p.0, q.1), "stroke=\"orange\" stroke-width=\"2\"");
            svg.line((p.0, q.1), p, "stroke=\"orange\" stroke-width=\"2\"");
        }
        best = Some((p.0, b));
    }
    svg.text((W - M, M - 8.0), "end", "dots: trials; line: best so far");
    svg.finish()
}

fn against(d: &Dim, k: usize, done: &[&Trial], objective: &str, yr: (f64, f64)) -> String {
    let mut svg = Svg::new(&format!("{objective} against {}", d.path));
    let (log, xr, (lo, hi)) = param_axis(d);
    let label = if log { format!("{} (log scale)", d.path) } else { d.path.clone() };
    svg.axes((&label, &lo, &hi), (objective, &short(yr.0), &short(yr.1)));
    for t in done {
        let x = scale(t.coords.get(k).copied().unwrap_or(0.0), xr, (M + 8.0, W - M - 8.0));
        svg.dot((x, scale(t.objective.unwrap_or(0.0), yr, (H - M, M))), "steelblue");
    }
    svg.finish()
}

fn parallel(dims: &[Dim], done: &[&Trial], objective: &str, mode: Mode, yr: (f64, f64)) -> String {
    let mut svg = Svg::new("parallel coordinates");
    let n = dims.len() + 1;
    let x = |i: usize| if n == 1 { W / 2.0 } else { scale(i as f64, (0.0, (n - 1) as f64), (M, W - M)) };
    let axes: Vec<Axis> = dims
        .iter()
        .map(|d| {
            let (_, r, ends) = param_axis(d);
            (d.path.clone(), r, ends)
        })
        .chain(std::iter::once((objective.to_string(), yr, (short(yr.0), short(yr.1)))))
        .collect();
    for (i, (name, _, (lo, hi))) in axes.iter().enumerate() {
        svg.line((x(i), M), (x(i), H - M), "stroke=\"black\"");
        svg.text((x(i), H - M + 16.0), "middle", lo);
        svg.text((x(i), M - 6.0), "middle", hi);
        svg.text((x(i), H - 14.0), "middle", name);
    }
    for t in done {
        let v = t.objective.unwrap_or(0.0);
        let goodness = scale(v, yr, (0.0, 1.0));
        let c = colour(if mode == Mode::Max { 1.0 - goodness } else { goodness });
        let points: Vec<f64> = t.coords.iter().copied().chain(std::iter::once(v)).collect();
        let ys: Vec<(f64, f64)> =
            points.iter().zip(&axes).enumerate().map(|(i, (p, (_, r, _)))| (x(i), scale(*p, *r, (H - M, M)))).collect();
        for w in ys.windows(2) {
            svg.line(w[0], w[1], &format!("stroke=\"{c}\" stroke-width=\"2\" opacity=\"0.8\""));
        }
    }
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{Space, Status};

    #[test]
    fn every_plot_is_an_svg_with_a_mark_per_finished_trial() {
        let dims = Space::from_args(&["lr=log(1e-4,1e-1)".into(), "b=8,16".into()]).expect("space").dims;
        let trials: Vec<Trial> = (0..3)
            .map(|i| {
                let mut t = Trial::new(i, vec!["1e-3".into(), "8".into()], vec![(1e-3f64).ln() + i as f64 * 0.1, 0.0]);
                t.status = if i == 2 { Status::Failed } else { Status::Completed };
                t.objective = Some(0.5 + i as f64 * 0.1);
                t
            })
            .collect();
        let plots = plots(&dims, &trials, "val.accuracy", Mode::Max);
        let names: Vec<&str> = plots.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["objective.svg", "objective-lr.svg", "objective-b.svg", "parallel.svg"]);
        assert_eq!(plots[0].1.matches("<circle").count(), 2);
        assert!(plots.iter().all(|(_, s)| s.starts_with("<svg") && s.ends_with("</svg>\n")));
    }
}
