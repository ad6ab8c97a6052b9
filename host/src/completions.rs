//! `dbmon completions SHELL` and `dbmon man`: shell completions and the man page, generated
//! from the binary's own clap definitions so that they never drift from the flags.

use clap_complete::Shell;
use std::io::{self, Write};

/// Writes the completion script of `shell` for `command` (the whole `dbmon` CLI) to `out`.
pub fn completions(
    mut command: clap::Command,
    shell: Shell,
    out: &mut impl Write,
) -> io::Result<()> {
    let name = command.get_name().to_string();
    // Into memory first: clap_complete panics on a write error (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    out.write_all(&script)
}

/// Writes the man page of `command` (roff, section 1) to `out`, with a section per subcommand.
pub fn man(command: clap::Command, out: &mut impl Write) -> io::Result<()> {
    let command = command.disable_help_subcommand(true);
    let page = clap_mangen::Man::new(command.clone());
    let mut text = Vec::new();
    page.render_title(&mut text)?;
    page.render_name_section(&mut text)?;
    page.render_synopsis_section(&mut text)?;
    page.render_description_section(&mut text)?;
    page.render_options_section(&mut text)?;
    render_subcommands(&command, "", &mut text)?;
    page.render_version_section(&mut text)?;
    out.write_all(&text)
}

/// One `.SH` per subcommand, recursively (`dbmon certs init`), skipping hidden ones.
fn render_subcommands(
    command: &clap::Command,
    prefix: &str,
    out: &mut impl Write,
) -> io::Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let path = format!("{prefix}{} ", sub.get_name());
        let title = format!("dbmon {}", path.trim_end()).to_uppercase();
        writeln!(out, ".SH \"{title}\"")?;
        let about = sub
            .get_long_about()
            .or(sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let usage = sub.clone().render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ");
        let usage = format!("dbmon {prefix}{usage}");
        writeln!(out, "{}", escape(&about))?;
        writeln!(out, ".PP\n.B {}", escape(&usage))?;
        for arg in sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set())
        {
            let name = match (arg.get_long(), arg.get_short()) {
                (Some(long), Some(short)) => format!("-{short}, --{long}"),
                (Some(long), None) => format!("--{long}"),
                (None, Some(short)) => format!("-{short}"),
                (None, None) => arg.get_id().to_string().to_uppercase(),
            };
            let value = match arg.get_value_names() {
                Some(names) if arg.get_action().takes_values() && arg.get_long().is_some() => {
                    let names: Vec<String> = names.iter().map(|n| format!("<{n}>")).collect();
                    format!(" {}", names.join(" "))
                }
                _ => String::new(),
            };
            let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            if let Some(env) = arg.get_env() {
                help.push_str(&format!(" [env: {}]", env.to_string_lossy()));
            }
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|d| d.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() && arg.get_action().takes_values() {
                help.push_str(&format!(" [default: {}]", defaults.join(",")));
            }
            writeln!(
                out,
                ".TP\n\\fB{}\\fR{}\n{}",
                escape(&name),
                escape(&value),
                escape(&help)
            )?;
        }
        render_subcommands(sub, &path, out)?;
    }
    Ok(())
}

/// Text safe in roff: backslashes doubled, hyphens as minus signs (so `--flag` copies right),
/// a line starting with `.` or `'` (a request) guarded.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('-', "\\-");
    text.lines()
        .map(|line| {
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
