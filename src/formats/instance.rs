//! Instance masks as COCO stores them, turned into pixels: polygons (filled at pixel centres,
//! even-odd) and run-length encodings, uncompressed (`counts` a list) or compressed (`counts`
//! a string, pycocotools' LEB128-like text). Both give a row-major `h × w` mask of `bool`.

/// Decodes compressed RLE text into run lengths (pycocotools' `rleFrString`): each number is
/// 5-bit groups offset by 48, a set 0x20 bit continuing it, 0x10 in the last group marking it
/// negative; from the third on, a number is a difference to the one two before.
pub fn rle_counts(text: &str) -> Vec<i64> {
    let bytes = text.as_bytes();
    let (mut counts, mut p) = (Vec::new(), 0usize);
    while p < bytes.len() {
        let (mut x, mut k, mut more) = (0i64, 0u32, true);
        while more && p < bytes.len() {
            let c = bytes[p] as i64 - 48;
            x |= (c & 0x1f) << (5 * k);
            more = c & 0x20 != 0;
            p += 1;
            k += 1;
            if !more && c & 0x10 != 0 {
                x |= -1i64 << (5 * k);
            }
        }
        if counts.len() > 2 {
            x += counts[counts.len() - 2];
        }
        counts.push(x);
    }
    counts
}

/// A mask from run lengths over the image in column-major order, starting with a run of 0s.
pub fn rle_mask(counts: &[i64], h: usize, w: usize) -> Vec<bool> {
    let mut mask = vec![false; h * w];
    let (mut at, mut on) = (0usize, false);
    for &run in counts {
        for i in at..(at + run.max(0) as usize).min(h * w) {
            mask[(i % h) * w + i / h] = on;
        }
        at += run.max(0) as usize;
        on = !on;
    }
    mask
}

/// A mask of polygons (`[x1, y1, x2, y2, …]` in pixels): a pixel is in when its centre is inside
/// an odd number of edges' crossings (even-odd), any polygon counting.
pub fn polygon_mask(polygons: &[Vec<f64>], h: usize, w: usize) -> Vec<bool> {
    let mut mask = vec![false; h * w];
    for poly in polygons.iter().filter(|p| p.len() >= 6) {
        let points: Vec<(f64, f64)> = poly.chunks_exact(2).map(|c| (c[0], c[1])).collect();
        for y in 0..h {
            let cy = y as f64 + 0.5;
            let mut xs: Vec<f64> = Vec::new();
            for (i, &(x0, y0)) in points.iter().enumerate() {
                let (x1, y1) = points[(i + 1) % points.len()];
                if (y0 <= cy) != (y1 <= cy) {
                    xs.push(x0 + (cy - y0) / (y1 - y0) * (x1 - x0));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let from = (pair[0] - 0.5).ceil().max(0.0) as usize;
                let to = ((pair[1] - 0.5).ceil().max(0.0) as usize).min(w);
                for x in from..to {
                    mask[y * w + x] = true;
                }
            }
        }
    }
    mask
}

/// The mask of a COCO `segmentation` value (polygons, or RLE with `counts` and `size`) on an
/// `h × w` image; `None` when it is neither.
pub fn segmentation_mask(value: &serde_json::Value, h: usize, w: usize) -> Option<Vec<bool>> {
    if let Some(polygons) = value.as_array() {
        let polys: Vec<Vec<f64>> = polygons
            .iter()
            .filter_map(|p| p.as_array().map(|p| p.iter().filter_map(|v| v.as_f64()).collect()))
            .collect();
        return Some(polygon_mask(&polys, h, w));
    }
    let counts = match value.get("counts")? {
        serde_json::Value::String(text) => rle_counts(text),
        serde_json::Value::Array(list) => list.iter().filter_map(|v| v.as_i64()).collect(),
        _ => return None,
    };
    Some(rle_mask(&counts, h, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(mask: &[bool], w: usize) -> Vec<String> {
        mask.chunks(w).map(|row| row.iter().map(|b| if *b { '#' } else { '.' }).collect()).collect()
    }

    #[test]
    fn rle_runs_go_down_the_columns() {
        // 3 rows × 2 columns, column-major: 1 off, 3 on, 2 off → rows 1 and 2 of column 0,
        // row 0 of column 1.
        assert_eq!(pixels(&rle_mask(&[1, 3, 2], 3, 2), 2), [".#", "#.", "#."]);
    }

    #[test]
    fn compressed_rle_matches_pycocotools() {
        // Counts survive pycocotools' coding (difference to the count two before, from the third).
        let encoded = encode(&[5, 2, 2, 2, 5]);
        assert_eq!(rle_counts(&encoded), [5, 2, 2, 2, 5]);
        assert_eq!(pixels(&rle_mask(&rle_counts(&encoded), 4, 4), 4), ["....", ".##.", ".##.", "...."]);
        // `pycocotools.mask.encode` of a 40×30 mask: rows 3–30 × columns 5–21, and rows
        // 10–11 × columns 0–2.
        let mask = rle_mask(&rle_counts(":2V1000Y2j0mL0000000000000000000000000000000m9"), 40, 30);
        let expected: Vec<bool> = (0..40 * 30)
            .map(|i| {
                let (y, x) = (i / 30, i % 30);
                (3..31).contains(&y) && (5..22).contains(&x) || (10..12).contains(&y) && x < 3
            })
            .collect();
        assert_eq!(mask, expected);
    }

    /// pycocotools' `rleToString`, to test the decoder on many numbers.
    fn encode(counts: &[i64]) -> String {
        let mut out = String::new();
        for (i, &c) in counts.iter().enumerate() {
            let mut x = if i > 2 { c - counts[i - 2] } else { c };
            loop {
                let mut ch = x & 0x1f;
                x >>= 5;
                let more = if ch & 0x10 != 0 { x != -1 } else { x != 0 };
                if more {
                    ch |= 0x20;
                }
                out.push((ch + 48) as u8 as char);
                if !more {
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn polygons_fill_the_pixels_whose_centres_they_hold() {
        let square = vec![vec![1.0, 1.0, 3.0, 1.0, 3.0, 3.0, 1.0, 3.0]];
        assert_eq!(pixels(&polygon_mask(&square, 4, 4), 4), ["....", ".##.", ".##.", "...."]);
        let json: serde_json::Value = serde_json::json!({"counts": [5, 2, 2, 2, 5], "size": [4, 4]});
        assert_eq!(segmentation_mask(&json, 4, 4), Some(polygon_mask(&square, 4, 4)));
    }
}
