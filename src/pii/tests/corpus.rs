//! Precision and recall of every detector (and the secrets, and one custom pattern) over
//! `tests/fixtures/pii/corpus.txt`: realistic coding-session text where the values to redact are
//! marked inline as `⟦kind|value⟧` (the file's header explains the format). The markers are
//! stripped, each section is run through the real `Redactor` with every detector on, and the
//! spans it finds are compared with the marked ones: exact bytes and kind, nothing looser.
//!
//! `cargo test --lib pii::tests::corpus -- --nocapture` prints the table and every miss.
//! The thresholds fail on a regression: no change at all on unmarked lines, overall precision
//! and recall, and a floor per kind.

use super::super::detect::Span;
use super::super::Redactor;
use crate::config::{CustomPattern, PiiConfig};
use crate::test_support::TempDir;
use std::collections::BTreeMap;

const CORPUS: &str = include_str!("../../../tests/fixtures/pii/corpus.txt");

/// One marked value: byte range in the section's clean text and the kind's count name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    start: usize,
    end: usize,
    kind: String,
}

/// One section of the corpus, markers stripped.
struct Section {
    name: String,
    text: String,
    /// For each line of `text`, its 1-based line number in the file.
    file_lines: Vec<usize>,
    marks: Vec<Mark>,
}

impl Section {
    /// Byte range of each line of `text` (without its newline).
    fn line_ranges(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        for line in self.text.split('\n') {
            out.push((at, at + line.len()));
            at += line.len() + 1;
        }
        out
    }

    /// The file line number of byte `offset`.
    fn file_line(&self, offset: usize) -> usize {
        let idx = self.text[..offset].bytes().filter(|&b| b == b'\n').count();
        self.file_lines[idx]
    }
}

/// Splits the corpus into sections and strips the markers.
fn parse(corpus: &str) -> Vec<Section> {
    let mut sections: Vec<(String, Vec<(usize, &str)>)> = Vec::new();
    for (i, line) in corpus.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("%%") {
            let rest = rest.trim();
            if let Some(name) = rest.strip_prefix("==").and_then(|r| r.strip_suffix("==")) {
                sections.push((name.trim().to_string(), Vec::new()));
            } else {
                assert!(
                    sections.is_empty(),
                    "line {}: comments only in the header",
                    i + 1
                );
            }
            continue;
        }
        match sections.last_mut() {
            Some((_, lines)) => lines.push((i + 1, line)),
            None => assert!(line.is_empty(), "line {}: text before a section", i + 1),
        }
    }
    sections
        .into_iter()
        .map(|(name, lines)| {
            // A blank line before the next section header is a separator, not content.
            let mut lines = lines;
            while lines.last().is_some_and(|(_, l)| l.is_empty()) {
                lines.pop();
            }
            let raw: Vec<&str> = lines.iter().map(|(_, l)| *l).collect();
            let (text, marks) = strip(&raw.join("\n"), &name);
            Section {
                name,
                text,
                file_lines: lines.iter().map(|(n, _)| *n).collect(),
                marks,
            }
        })
        .collect()
}

/// `raw` without its `⟦kind|value⟧` markers, and where each value landed.
fn strip(raw: &str, section: &str) -> (String, Vec<Mark>) {
    let mut text = String::with_capacity(raw.len());
    let mut marks = Vec::new();
    let mut rest = raw;
    while let Some(open) = rest.find('⟦') {
        text.push_str(&rest[..open]);
        let inner = &rest[open + '⟦'.len_utf8()..];
        let close = inner
            .find('⟧')
            .unwrap_or_else(|| panic!("{section}: unclosed marker"));
        let body = &inner[..close];
        assert!(!body.contains('⟦'), "{section}: nested marker in {body:?}");
        let (kind, value) = body
            .split_once('|')
            .unwrap_or_else(|| panic!("{section}: marker without `|`: {body:?}"));
        assert!(!value.is_empty(), "{section}: empty marker");
        marks.push(Mark {
            start: text.len(),
            end: text.len() + value.len(),
            kind: kind.to_string(),
        });
        text.push_str(value);
        rest = &inner[close + '⟧'.len_utf8()..];
    }
    assert!(!rest.contains('⟧'), "{section}: stray `⟧`");
    text.push_str(rest);
    (text, marks)
}

/// Every detector on, mask mode, plus the custom pattern the corpus header names.
fn redactor() -> (Redactor, TempDir) {
    let home = TempDir::new("pii-corpus");
    let cfg = PiiConfig {
        enabled: true,
        custom_patterns: vec![CustomPattern {
            name: "employee_id".into(),
            pattern: r"\bEMP-[0-9]{6}\b".into(),
            placeholder: None,
        }],
        ..PiiConfig::default()
    };
    let r = Redactor::from_config(&cfg, &home, None)
        .expect("builds")
        .expect("something to redact");
    (r, home)
}

#[derive(Default, Clone, Copy)]
struct Tally {
    tp: usize,
    fp: usize,
    fn_: usize,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

impl Tally {
    fn precision(self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    fn recall(self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
}

fn show(x: f64, den: usize) -> String {
    if den == 0 {
        "-".into()
    } else {
        format!("{x:.3}")
    }
}

/// What one run over the corpus measured.
#[derive(Default)]
struct Measured {
    per_kind: BTreeMap<String, Tally>,
    /// One line per false negative and false positive, for the printout.
    misses: Vec<String>,
    /// Unmarked lines that a found span reached into.
    touched_unmarked: Vec<String>,
    lines: usize,
    marked_lines: usize,
}

/// Runs `r` over every section and compares what it finds with the marks.
fn measure(sections: &[Section], r: &Redactor) -> Measured {
    let mut per_kind: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut touched_unmarked = Vec::new();
    let (mut lines, mut marked_lines) = (0, 0);

    for s in sections {
        let mut spans: Vec<Span> = Vec::new();
        r.spans(&s.text, &mut spans);
        let found: Vec<Mark> = spans
            .iter()
            .map(|sp| Mark {
                start: sp.start,
                end: sp.end,
                kind: r.label(sp.kind).1.to_string(),
            })
            .collect();
        // The same detection is what `text` applies: no span, no change; every span, a change.
        let mut counts = super::super::Counts::default();
        let masked = r.text(&s.text, &mut counts);
        assert_eq!(
            masked == s.text.as_str(),
            found.is_empty(),
            "{}: text() and spans() disagree",
            s.name
        );
        assert_eq!(
            counts.iter().map(|(_, n)| n as usize).sum::<usize>(),
            found.len(),
            "{}: counts",
            s.name
        );

        for m in &s.marks {
            let t = per_kind.entry(m.kind.clone()).or_default();
            if found.contains(m) {
                t.tp += 1;
            } else {
                t.fn_ += 1;
                misses.push(format!(
                    "  FN line {:>3} {:<24} {:?}",
                    s.file_line(m.start),
                    m.kind,
                    &s.text[m.start..m.end]
                ));
            }
        }
        for f in found.iter().filter(|f| !s.marks.contains(f)) {
            per_kind.entry(f.kind.clone()).or_default().fp += 1;
            misses.push(format!(
                "  FP line {:>3} {:<24} {:?}",
                s.file_line(f.start),
                f.kind,
                &s.text[f.start..f.end]
            ));
        }
        // Unmarked lines must come back byte-identical: no found span may reach into them.
        for (idx, (ls, le)) in s.line_ranges().into_iter().enumerate() {
            lines += 1;
            let marked = s.marks.iter().any(|m| m.start <= le && m.end >= ls);
            if marked {
                marked_lines += 1;
                continue;
            }
            for f in found
                .iter()
                .filter(|f| f.start < le.max(ls + 1) && f.end > ls)
            {
                touched_unmarked.push(format!(
                    "  line {} ({}): {:?} taken as {}",
                    s.file_lines[idx],
                    s.name,
                    &s.text[f.start..f.end],
                    f.kind
                ));
            }
        }
    }

    Measured {
        per_kind,
        misses,
        touched_unmarked,
        lines,
        marked_lines,
    }
}

#[test]
fn precision_and_recall_on_the_corpus() {
    let sections = parse(CORPUS);
    let (r, _home) = redactor();
    let Measured {
        per_kind,
        misses,
        touched_unmarked,
        lines,
        marked_lines,
    } = measure(&sections, &r);
    let total = per_kind.values().fold(Tally::default(), |a, t| Tally {
        tp: a.tp + t.tp,
        fp: a.fp + t.fp,
        fn_: a.fn_ + t.fn_,
    });
    println!(
        "PII corpus: {} sections, {lines} lines ({marked_lines} with values to redact, {} must stay untouched)",
        sections.len(),
        lines - marked_lines
    );
    println!(
        "{:<28} {:>8} {:>5} {:>5} {:>5} {:>9} {:>7}",
        "kind", "expected", "tp", "fp", "fn", "precision", "recall"
    );
    let row = |name: &str, t: Tally| {
        println!(
            "{:<28} {:>8} {:>5} {:>5} {:>5} {:>9} {:>7}",
            name,
            t.tp + t.fn_,
            t.tp,
            t.fp,
            t.fn_,
            show(t.precision(), t.tp + t.fp),
            show(t.recall(), t.tp + t.fn_)
        );
    };
    for (kind, t) in &per_kind {
        row(kind, *t);
    }
    row("overall", total);
    if !misses.is_empty() {
        println!("misses:\n{}", misses.join("\n"));
    }

    assert!(lines >= 300, "corpus has {lines} lines");
    assert!(
        touched_unmarked.is_empty(),
        "look-alike lines changed:\n{}",
        touched_unmarked.join("\n")
    );
    assert!(
        total.precision() >= 0.98,
        "precision {:.3}",
        total.precision()
    );
    assert!(total.recall() >= 0.95, "recall {:.3}", total.recall());
    for (kind, t) in &per_kind {
        assert!(
            t.precision() >= 0.95,
            "{kind}: precision {:.3}",
            t.precision()
        );
        assert!(t.recall() >= 0.9, "{kind}: recall {:.3}", t.recall());
    }
}

/// The parser the numbers rest on: markers vanish, offsets point at the values, and a section
/// keeps its file line numbers.
#[test]
fn corpus_markers_parse() {
    let corpus = "%% header\n%% == a ==\nx ⟦email|a@b.co⟧ y\nplain\n\n%% == b ==\n⟦ip|10.1.2.3⟧\n";
    let s = parse(corpus);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].text, "x a@b.co y\nplain");
    assert_eq!(
        s[0].marks,
        vec![Mark {
            start: 2,
            end: 8,
            kind: "email".into()
        }]
    );
    assert_eq!(s[0].file_lines, vec![3, 4]);
    assert_eq!(s[0].file_line(11), 4);
    assert_eq!(
        &s[1].text[s[1].marks[0].start..s[1].marks[0].end],
        "10.1.2.3"
    );
    assert_eq!(s[1].file_lines, vec![7]);
}
