fn main() {
    if let Err(e) = latchkey::cli::main() {
        eprintln!("latchkey: {e}");
        std::process::exit(1);
    }
}
