fn main() {
    std::process::exit(helm_ccr::run_main());
}
