//! Parsers for the files agent tooling already writes (docs/dialogue.md, "Files agent tooling already
//! writes"): expert responses with markers, the tension table, the scoreboard. Pure and total:
//! any text parses, and what cannot be understood comes back as a warning with its line.

/// One understood marker block of a response file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// `[PERSPECTIVE P01: label]`, or a namespaced `[MUFFIN-P0101: label]` of kind P.
    Perspective { local: String, label: String },
    /// `[TENSION T01: label]`, or namespaced of kind T.
    Tension { local: String, label: String },
    /// A namespaced entity of another kind: `[MUFFIN-R0101: label]` (letter R, E or C).
    Entity {
        letter: char,
        local: String,
        label: String,
    },
    /// `[REFINEMENT: text]` or `[REFINEMENT T05: text]`.
    Refinement {
        target: Option<String>,
        text: String,
    },
    /// `[CONCESSION: text]`.
    Concession { text: String },
    /// `[RESOLVED T01]`, `[RESOLVED T01: text]`, `[RESOLVED on T02 ...]`, `[RESOLUTION T03: text]`.
    Resolved { target: String, text: String },
    /// `[ACKNOWLEDGED T09: text]`: the tension is taken up but not settled.
    Acknowledged { target: String, text: String },
    /// `[RE:SUPPORT P0001]` — a reference from the previous entity.
    Reference { ref_type: String, target: String },
    /// `[MOVE:DEFEND P0003]`.
    Move { kind: String, targets: Vec<String> },
}

/// A marker with the text that follows it (until the next marker or `---`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub marker: Marker,
    /// The marker exactly as written.
    pub original: String,
    pub body: String,
    /// 1-based line of the marker.
    pub line: usize,
}

/// Something the parser could not understand, with its line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

/// A parsed response file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub blocks: Vec<Block>,
    pub warnings: Vec<Warning>,
}

/// Ids such as `T01`, `P0101`, `T1`: a type letter and digits.
fn short_id(text: &str) -> Option<String> {
    let mut chars = text.chars();
    let letter = chars.next()?;
    let digits: String = chars.collect();
    (letter.is_ascii_uppercase()
        && !digits.is_empty()
        && digits.len() <= 4
        && digits.chars().all(|c| c.is_ascii_digit()))
    .then(|| text.to_owned())
}

/// The first id-looking word (`T02` in `on T02 ...`).
fn first_id(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(short_id)
}

/// Splits `HEAD: rest` or `HEAD rest` at the first colon.
fn split_label(inner: &str) -> (&str, &str) {
    match inner.split_once(':') {
        Some((head, rest)) => (head.trim(), rest.trim()),
        None => (inner.trim(), ""),
    }
}

/// Reads one marker line (`[...]` at the start of a line). `None` when it is not a marker at all;
/// `Some(Err)` when it looks like one but cannot be understood.
fn parse_marker(line: &str) -> Option<Result<Marker, String>> {
    let trimmed = line.trim();
    let rest = trimmed.strip_prefix('[')?;
    let first = rest.chars().next()?;
    if !first.is_ascii_uppercase() {
        return None;
    }
    let Some(end) = rest.find(']') else {
        return Some(Err("a marker is not closed with `]`".to_owned()));
    };
    let inner = &rest[..end];
    // `RE:KIND target` and `MOVE:KIND targets` use the colon inside the keyword.
    for (prefix, is_reference) in [("RE:", true), ("MOVE:", false)] {
        if let Some(rest) = inner.strip_prefix(prefix) {
            let mut words = rest.split_whitespace();
            let kind = words.next().unwrap_or_default().to_ascii_lowercase();
            let targets: Vec<String> = words
                .filter_map(|w| {
                    let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
                    short_id(w).or_else(|| crate::ids::LocalId::parse(w).map(|_| w.to_owned()))
                })
                .collect();
            return Some(match (is_reference, targets.first()) {
                (true, Some(target)) => Ok(Marker::Reference {
                    ref_type: kind,
                    target: target.clone(),
                }),
                (true, None) => Err(format!(
                    "`RE:{}` needs a target id",
                    kind.to_ascii_uppercase()
                )),
                (false, _) => Ok(Marker::Move { kind, targets }),
            });
        }
    }
    let (head, label) = split_label(inner);
    let mut words = head.split_whitespace();
    let keyword = words.next().unwrap_or_default();
    let argument = words.collect::<Vec<_>>().join(" ");
    let marker = match keyword {
        "PERSPECTIVE" | "TENSION" => {
            let Some(local) = short_id(argument.trim()) else {
                return Some(Err(format!("`{keyword}` needs an id like P01 or T01")));
            };
            if keyword == "PERSPECTIVE" {
                Marker::Perspective {
                    local,
                    label: label.to_owned(),
                }
            } else {
                Marker::Tension {
                    local,
                    label: label.to_owned(),
                }
            }
        }
        "REFINEMENT" => Marker::Refinement {
            target: first_id(&argument)
                .or_else(|| label.split_whitespace().next().and_then(short_id)),
            text: label.to_owned(),
        },
        "CONCESSION" => Marker::Concession {
            text: label.to_owned(),
        },
        "RESOLVED" | "RESOLUTION" | "ACKNOWLEDGED" => {
            let Some(target) = first_id(&argument) else {
                return Some(Err(format!("`{keyword}` needs a tension id like T01")));
            };
            if keyword == "ACKNOWLEDGED" {
                Marker::Acknowledged {
                    target,
                    text: label.to_owned(),
                }
            } else {
                Marker::Resolved {
                    target,
                    text: label.to_owned(),
                }
            }
        }
        _ => {
            if let Some(local) = crate::ids::LocalId::parse(keyword) {
                let full = keyword.to_owned();
                match local.letter {
                    'P' => Marker::Perspective {
                        local: full,
                        label: label.to_owned(),
                    },
                    'T' => Marker::Tension {
                        local: full,
                        label: label.to_owned(),
                    },
                    letter @ ('R' | 'E' | 'C') => Marker::Entity {
                        letter,
                        local: full,
                        label: label.to_owned(),
                    },
                    other => {
                        return Some(Err(format!("`{other}` is not an entity type (P R T E C)")));
                    }
                }
            } else {
                return Some(Err(format!("unrecognized marker `{keyword}`")));
            }
        }
    };
    Some(Ok(marker))
}

/// Parses an expert's response: marker blocks, each with its body until the next marker or a
/// `---` line. Text before the first marker, and markers that cannot be understood, stay in the
/// raw response; the latter are reported as warnings.
pub fn parse_response(text: &str) -> Response {
    let mut response = Response::default();
    let mut current: Option<Block> = None;
    let finish = |block: Option<Block>, response: &mut Response| {
        if let Some(mut block) = block {
            block.body = block.body.trim().to_owned();
            response.blocks.push(block);
        }
    };
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim() == "---" {
            finish(current.take(), &mut response);
            continue;
        }
        match parse_marker(line) {
            Some(Ok(marker)) => {
                finish(current.take(), &mut response);
                let original = line.trim();
                let close = original.find(']').map_or(original.len(), |i| i + 1);
                let mut body = original[close..].trim().to_owned();
                body.push('\n');
                current = Some(Block {
                    marker,
                    original: original[..close].to_owned(),
                    body,
                    line: number,
                });
            }
            Some(Err(message)) => {
                response.warnings.push(Warning {
                    line: number,
                    message,
                });
                if let Some(block) = &mut current {
                    block.body.push_str(line);
                    block.body.push('\n');
                }
            }
            None => {
                if let Some(block) = &mut current {
                    block.body.push_str(line);
                    block.body.push('\n');
                }
            }
        }
    }
    finish(current.take(), &mut response);
    response
}

/// One row of a markdown table: its cells, trimmed, with `**bold**` markers removed.
fn cells(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    if !line.starts_with('|') {
        return None;
    }
    let inner = line.trim_matches('|');
    if inner.chars().all(|c| matches!(c, '-' | ':' | '|' | ' ')) {
        return None;
    }
    Some(
        inner
            .split('|')
            .map(|c| c.trim().replace("**", ""))
            .collect(),
    )
}

/// The first markdown table whose header starts with `first_header`, as rows of (column name in
/// lowercase, cell) pairs.
fn table(text: &str, first_header: &str) -> Vec<Vec<(String, String)>> {
    let mut rows = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for line in text.lines() {
        let in_table = line.trim().starts_with('|');
        match (&header, cells(line)) {
            (None, Some(cells))
                if cells
                    .first()
                    .is_some_and(|c| c.eq_ignore_ascii_case(first_header)) =>
            {
                header = Some(cells.iter().map(|c| c.to_lowercase()).collect());
            }
            (Some(names), Some(cells)) => rows.push(names.iter().cloned().zip(cells).collect()),
            (Some(_), None) if !in_table => break,
            _ => {}
        }
    }
    rows
}

fn cell<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
    row.iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A round number from `R0`, `R12`, `Round 1`, `0`.
pub fn round_number(text: &str) -> Option<u8> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    (!digits.is_empty() && digits.len() <= 2)
        .then(|| digits.parse().ok())
        .flatten()
}

/// One row of `tensions.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensionRow {
    pub id: String,
    pub label: String,
    /// The status as written (`Resolved`, `Deferred`, ...).
    pub status: String,
    pub raised: Option<u8>,
    pub resolved: Option<u8>,
}

/// Parses the `| ID | Tension | Status | Raised | Resolved |` table of `tensions.md`.
pub fn parse_tensions(text: &str) -> Vec<TensionRow> {
    table(text, "id")
        .iter()
        .filter_map(|row| {
            let id = short_id(cell(row, "id"))?;
            Some(TensionRow {
                id,
                label: cell(row, "tension").to_owned(),
                status: cell(row, "status").to_owned(),
                raised: round_number(cell(row, "raised")),
                resolved: round_number(cell(row, "resolved")),
            })
        })
        .collect()
}

/// Scores from `scoreboard.md`: the round table's `Score` column and the per-agent table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scoreboard {
    /// Round → score.
    pub rounds: Vec<(u8, f64)>,
    /// (expert name as written, round, score).
    pub experts: Vec<(String, u8, f64)>,
    /// The last round's `Converge %`, if given.
    pub converged_percent: Option<f64>,
}

fn number(text: &str) -> Option<f64> {
    text.trim().trim_end_matches('%').trim().parse().ok()
}

/// Parses `scoreboard.md`.
pub fn parse_scoreboard(text: &str) -> Scoreboard {
    let mut board = Scoreboard::default();
    for row in table(text, "round") {
        let Some(round) = round_number(cell(&row, "round")) else {
            continue;
        };
        if let Some(score) = number(cell(&row, "score")) {
            board.rounds.push((round, score));
        }
        board.converged_percent = number(cell(&row, "converge %")).or(board.converged_percent);
    }
    for row in table(text, "agent") {
        let name = cell(&row, "agent").to_owned();
        for (column, value) in &row {
            if let (Some(round), Some(score)) = (
                column.strip_prefix('r').and_then(round_number),
                number(value),
            ) {
                board.experts.push((name.clone(), round, score));
            }
        }
    }
    board
}

/// The text of the first `# ` heading after a dash (`# Tensions — PM Repo Sync (FINAL)` →
/// `PM Repo Sync`), or the whole heading without one.
pub fn heading_subject(text: &str) -> Option<String> {
    let heading = text.lines().find_map(|l| l.trim().strip_prefix("# "))?;
    let subject = heading
        .split_once(" — ")
        .or_else(|| heading.split_once(" - "))
        .map_or(heading, |(_, s)| s);
    let subject = subject.trim();
    let subject = match subject.rfind(" (") {
        Some(i) if subject.ends_with(')') => &subject[..i],
        _ => subject,
    };
    (!subject.is_empty()).then(|| subject.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_bodies() {
        let text = "intro prose\n[PERSPECTIVE P01: Schema first]\nThe body.\nMore.\n\n[TENSION T01: Atomicity]\nWhy.\n---\ntrailer\n[RESOLVED on T02 by batching]\n[REFINEMENT T05: narrower]\n[CONCESSION: T01 -- fine]\n[MUFFIN-R0101: Adopt it]\n[RE:SUPPORT P0001]\n[MOVE:DEFEND P0003 T0001]\n[ACKNOWLEDGED T09: later]\n[PERSPECTIVE: no id]\n[BROKEN no close\n";
        let response = parse_response(text);
        let markers: Vec<&Marker> = response.blocks.iter().map(|b| &b.marker).collect();
        assert_eq!(
            markers,
            [
                &Marker::Perspective {
                    local: "P01".into(),
                    label: "Schema first".into()
                },
                &Marker::Tension {
                    local: "T01".into(),
                    label: "Atomicity".into()
                },
                &Marker::Resolved {
                    target: "T02".into(),
                    text: String::new()
                },
                &Marker::Refinement {
                    target: Some("T05".into()),
                    text: "narrower".into()
                },
                &Marker::Concession {
                    text: "T01 -- fine".into()
                },
                &Marker::Entity {
                    letter: 'R',
                    local: "MUFFIN-R0101".into(),
                    label: "Adopt it".into()
                },
                &Marker::Reference {
                    ref_type: "support".into(),
                    target: "P0001".into()
                },
                &Marker::Move {
                    kind: "defend".into(),
                    targets: vec!["P0003".into(), "T0001".into()]
                },
                &Marker::Acknowledged {
                    target: "T09".into(),
                    text: "later".into(),
                },
            ]
        );
        assert_eq!(response.blocks[0].body, "The body.\nMore.");
        assert_eq!(response.blocks[1].body, "Why.");
        assert_eq!(response.blocks[0].line, 2);
        let lines: Vec<usize> = response.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [17, 18]);
    }

    #[test]
    fn tables() {
        let tensions = "# Tensions — PM Repo Sync (FINAL)\n\n| ID | Tension | Status | Raised | Resolved |\n|----|----|----|----|----|\n| T01 | Writeback | **Resolved** | R0 | R1 |\n| T09 | Lock refs | **Deferred** | R1 | — |\n\n**All done.**\n";
        let rows = parse_tensions(tensions);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[1].status.as_str(), rows[1].raised, rows[1].resolved),
            ("Deferred", Some(1), None)
        );
        assert_eq!(heading_subject(tensions).as_deref(), Some("PM Repo Sync"));
        let board = "| Round | W | Score | Converge % |\n|---|---|---|---|\n| 0 | 1 | 65 | 0% |\n| 1 | 2 | 94 | 100% |\n\n| Agent | R0 | R1 | Total |\n|---|---|---|---|\n| Muffin | 9 | 12 | **21** |\n| Donut | 8 | — | **8** |\n";
        let board = parse_scoreboard(board);
        assert_eq!(board.rounds, [(0, 65.0), (1, 94.0)]);
        assert_eq!(board.converged_percent, Some(100.0));
        assert_eq!(
            board.experts,
            [
                ("Muffin".into(), 0, 9.0),
                ("Muffin".into(), 1, 12.0),
                ("Donut".into(), 0, 8.0)
            ]
        );
    }
}
