//! Presentation for people: tables, and pictures of the graph as text, Mermaid and Graphviz DOT.
//! Labels are opened with the dialogue's key ring; without it (shredded) they read `[shredded]`.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use dlg_core::graph::{Graph, NodeItem, SealedCopy};
use dlg_core::query::Subgraph;

use crate::keys::KeyRing;

/// A table with the house style.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120)
        .set_header(header.iter().copied());
    table
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
            label(ring, node)
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

fn escape_mermaid(text: &str) -> String {
    text.replace('"', "#quot;").replace(['\n', '\r'], " ")
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
            escape_mermaid(&label(ring, node)),
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

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\n', '\r'], " ")
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
            escape_dot(&label(ring, node))
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
