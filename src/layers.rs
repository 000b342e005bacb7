//! The layer rule, checked on the source tree: a module imports only from its own layer and the
//! layers below it, and no modules import each other in a circle.
//!
//! Layers, bottom to top: `pure` (the core: no I/O), `config` (plain data and its parsing),
//! `net` (the network), `store`, `notify` (alerts), `app` (the application), and the faces
//! `cli` and `server`. A child module may use its parent's items and the parent its children's
//! (that is one module's namespace, not an import between two), so only imports between modules
//! that are not each other's ancestors make a circle. Reads the `.rs` files under `src/`; never
//! compiles them, so an import is any `crate::` or `super::` path outside a comment.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The layers, bottom first; a module's layer is named by the first segment of its path.
const LAYERS: &[(&str, &str, u8)] = &[
    ("pure", "the core", 0),
    ("config", "config", 1),
    ("net", "the network", 2),
    ("store", "the store", 3),
    ("notify", "alerts", 4),
    ("app", "the application", 5),
    ("cli", "a face", 6),
    ("server", "a face", 6),
];

/// Circles allowed for now, each with the work that removes it; anything else fails. Empty: a
/// new entry needs a reason here.
const KNOWN_CIRCLES: &[&[&str]] = &[];

type Module = Vec<String>;

/// One import: where it is written and what it names.
#[derive(Debug, Clone)]
struct Import {
    file: PathBuf,
    line: usize,
    text: String,
}

fn layer(module: &Module) -> Option<(&'static str, &'static str, u8)> {
    let first = module.first()?;
    LAYERS.iter().copied().find(|(name, _, _)| name == first)
}

fn name(module: &Module) -> String {
    module.join("::")
}

/// Every module of the crate's source tree, with its file.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut module: Module = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            // The crate root and the binary belong to no layer.
            if module == ["lib"] || module == ["main"] {
                continue;
            }
            found.insert(module, path);
        }
    }
    found
}

/// The text with comments blanked out (line breaks kept, so line numbers stay true).
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                    }
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The paths a `use` tree or an inline path names, from just after `crate::` or `super::`.
/// `a::b::{c, d::e}` gives `a::b::c` and `a::b::d::e`.
fn expand(tail: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut rest = tail;
    loop {
        rest = rest.trim_start();
        if let Some(inner) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = inner.len();
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let mut paths = Vec::new();
            let mut depth = 0;
            let mut start = 0;
            let body = &inner[..end];
            for (i, c) in body.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        paths.extend(expand(&body[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            paths.extend(expand(&body[start..]));
            return paths
                .into_iter()
                .map(|p| prefix.iter().cloned().chain(p).collect())
                .collect();
        }
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() || ident == "self" {
            return vec![prefix];
        }
        prefix.push(ident.clone());
        rest = &rest[ident.len()..];
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => return vec![prefix],
        }
    }
}

/// The module a path names: the longest prefix of it that is a module.
fn resolve(path: &[String], modules: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| modules.contains_key(m))
}

/// For each module, the modules it imports and the first place it does.
fn imports(modules: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeMap<Module, Import>> {
    let mut graph: BTreeMap<Module, BTreeMap<Module, Import>> = BTreeMap::new();
    for (module, file) in modules {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let code = without_comments(&text);
        let lines: Vec<&str> = code.lines().collect();
        for (at, _) in code.match_indices("::") {
            let before = &code[..at];
            let root = ["crate", "super"].into_iter().find(|r| {
                before.ends_with(r)
                    && !before[..before.len() - r.len()]
                        .ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
            });
            let Some(root) = root else { continue };
            let base: Module = if root == "crate" {
                Vec::new()
            } else {
                module[..module.len().saturating_sub(1)].to_vec()
            };
            let line = before.matches('\n').count() + 1;
            for tail in expand(&code[at + 2..]) {
                let path: Vec<String> = base.iter().cloned().chain(tail).collect();
                let Some(target) = resolve(&path, modules) else {
                    continue;
                };
                if &target == module {
                    continue;
                }
                graph
                    .entry(module.clone())
                    .or_default()
                    .entry(target)
                    .or_insert_with(|| Import {
                        file: file.clone(),
                        line,
                        text: lines.get(line - 1).map_or("", |l| l.trim()).to_string(),
                    });
            }
        }
    }
    graph
}

fn related(a: &Module, b: &Module) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Strongly connected groups of more than one module (Tarjan), over imports between modules
/// that are not each other's ancestors.
fn circles(graph: &BTreeMap<Module, BTreeMap<Module, Import>>) -> Vec<Vec<Module>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Module, BTreeMap<Module, Import>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on_stack: BTreeSet<Module>,
        found: Vec<Vec<Module>>,
    }
    impl Walk<'_> {
        fn visit(&mut self, v: &Module) {
            let n = self.index.len();
            self.index.insert(v.clone(), n);
            self.low.insert(v.clone(), n);
            self.stack.push(v.clone());
            self.on_stack.insert(v.clone());
            let next: Vec<Module> = self
                .graph
                .get(v)
                .map(|t| t.keys().filter(|w| !related(v, w)).cloned().collect())
                .unwrap_or_default();
            for w in next {
                if !self.index.contains_key(&w) {
                    self.visit(&w);
                    let low = self.low[v].min(self.low[&w]);
                    self.low.insert(v.clone(), low);
                } else if self.on_stack.contains(&w) {
                    let low = self.low[v].min(self.index[&w]);
                    self.low.insert(v.clone(), low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(&w);
                    let done = &w == v;
                    group.push(w);
                    if done {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn place(import: &Import) -> String {
    let file = import
        .file
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(&import.file);
    format!("{}:{}: `{}`", file.display(), import.line, import.text)
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let modules = modules(&src());
    assert!(
        modules.len() > 50,
        "found only {} modules under src/",
        modules.len()
    );
    let mut failures = String::new();
    for (from, targets) in imports(&modules) {
        let Some((from_layer, from_what, from_rank)) = layer(&from) else {
            continue;
        };
        for (to, import) in targets {
            let Some((to_layer, to_what, to_rank)) = layer(&to) else {
                continue;
            };
            if to_rank > from_rank {
                let _ = writeln!(
                    failures,
                    "{}\n  {} (layer `{from_layer}`, {from_what}) imports {} (layer `{to_layer}`, \
                     {to_what}), which is above it",
                    place(&import),
                    name(&from),
                    name(&to),
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "a module may import only from its own layer and the layers below it \
         (pure < config < net < store < notify < app < cli, server):\n{failures}"
    );
}

#[test]
fn no_modules_import_each_other() {
    let modules = modules(&src());
    let graph = imports(&modules);
    let mut failures = String::new();
    for group in circles(&graph) {
        let names: Vec<String> = group.iter().map(name).collect();
        if KNOWN_CIRCLES.iter().any(|known| {
            known
                .iter()
                .map(|s| s.to_string())
                .eq(names.iter().cloned())
        }) {
            continue;
        }
        let _ = writeln!(failures, "circle: {}", names.join(", "));
        for from in &group {
            for (to, import) in &graph[from] {
                if group.contains(to) && !related(from, to) {
                    let _ = writeln!(
                        failures,
                        "  {} -> {}  {}",
                        name(from),
                        name(to),
                        place(import)
                    );
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "modules that import each other:\n{failures}"
    );
}

#[test]
fn imports_are_read_from_use_trees_and_paths() {
    let paths = expand("a::{b, c::{d, e}, self};");
    assert_eq!(
        paths,
        vec![
            vec!["a", "b"],
            vec!["a", "c", "d"],
            vec!["a", "c", "e"],
            vec!["a"],
        ]
    );
    assert_eq!(
        expand("store::Store::open(&p)"),
        vec![vec!["store", "Store", "open"]]
    );
    let code = without_comments("a // crate::x\n/* crate::y\n */ \"// kept\" crate::z");
    assert!(!code.contains("crate::x") && !code.contains("crate::y"));
    assert!(code.contains("\"// kept\"") && code.contains("crate::z"));
    assert_eq!(code.lines().count(), 3);
}
