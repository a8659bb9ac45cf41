//! Presentation for people: tables, and pictures of the graph as text, Mermaid and Graphviz DOT.
//! Labels are opened with the dialogue's key ring; without it (shredded) they read `[shredded]`.
//! Every piece of content leaves here through `dlg_core::text`: cells and text-graph labels on
//! one line with control characters escaped, Mermaid and DOT labels escaped for their renderers.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use dlg_core::graph::{Graph, NodeItem, SealedCopy};
use dlg_core::query::Subgraph;
use dlg_core::text;

use crate::keys::KeyRing;

/// A table in the house style whose cells are always neutralised: a cell is one line, with
/// control characters escaped, whatever the content holds.
#[derive(Debug)]
pub struct SafeTable(Table);

impl SafeTable {
    /// Adds a row, each cell through [`text::line`].
    pub fn add_row(&mut self, cells: Vec<String>) -> &mut Self {
        self.0
            .add_row(cells.iter().map(|cell| text::line(cell).into_owned()));
        self
    }
}

impl std::fmt::Display for SafeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A table with the house style.
pub fn table(header: &[&str]) -> SafeTable {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120)
        .set_header(header.iter().copied());
    SafeTable(table)
}

/// Opens one text field of sealed content for display.
pub fn text(ring: &KeyRing, copy: Option<&SealedCopy>, name: &str) -> String {
    let Some(copy) = copy else {
        return String::new();
    };
    if ring.is_empty() {
        return "[shredded]".to_owned();
    }
    match ring.open(copy) {
        Ok(map) => match map.get(name) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        },
        Err(_) => "[does not open]".to_owned(),
    }
}

/// A node's label for display.
pub fn label(ring: &KeyRing, node: &NodeItem) -> String {
    text(ring, node.content.as_ref(), "label")
}

/// The subgraph as indented text: nodes, then edges.
pub fn graph_text(ring: &KeyRing, subgraph: &Subgraph) -> String {
    let mut out = String::new();
    for node in &subgraph.nodes {
        out.push_str(&format!(
            "{} [{} · {} · round {}] {}\n",
            node.id,
            node.kind,
            node.status,
            node.round,
            text::line(&label(ring, node))
        ));
    }
    if !subgraph.edges.is_empty() {
        out.push('\n');
    }
    for edge in &subgraph.edges {
        out.push_str(&format!(
            "{} --{}--> {}\n",
            edge.source, edge.ref_type, edge.target
        ));
    }
    out
}

/// The subgraph as a Mermaid flowchart.
pub fn graph_mermaid(ring: &KeyRing, subgraph: &Subgraph) -> String {
    let mut out = String::from("flowchart LR\n");
    for node in &subgraph.nodes {
        let shape = match node.kind {
            dlg_core::ids::EntityKind::Tension => ("{{", "}}"),
            dlg_core::ids::EntityKind::Recommendation => ("[/", "/]"),
            _ => ("[", "]"),
        };
        out.push_str(&format!(
            "    {}{}\"{} · {}<br/>{}\"{}\n",
            node.id,
            shape.0,
            node.id,
            node.status,
            text::mermaid(&label(ring, node)),
            shape.1
        ));
    }
    for edge in &subgraph.edges {
        out.push_str(&format!(
            "    {} -->|{}| {}\n",
            edge.source, edge.ref_type, edge.target
        ));
    }
    out
}

/// The subgraph as a Graphviz digraph.
pub fn graph_dot(ring: &KeyRing, graph: &Graph, subgraph: &Subgraph) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n    rankdir=LR;\n    node [shape=box];\n",
        graph.dialogue
    );
    for node in &subgraph.nodes {
        let shape = match node.kind {
            dlg_core::ids::EntityKind::Tension => "hexagon",
            dlg_core::ids::EntityKind::Recommendation => "parallelogram",
            dlg_core::ids::EntityKind::Evidence => "note",
            dlg_core::ids::EntityKind::Claim => "ellipse",
            dlg_core::ids::EntityKind::Perspective => "box",
        };
        out.push_str(&format!(
            "    \"{}\" [shape={shape}, label=\"{} ({})\\n{}\"];\n",
            node.id,
            node.id,
            node.status,
            text::dot(&label(ring, node))
        ));
    }
    for edge in &subgraph.edges {
        out.push_str(&format!(
            "    \"{}\" -> \"{}\" [label=\"{}\"];\n",
            edge.source, edge.target, edge.ref_type
        ));
    }
    out.push_str("}\n");
    out
}
