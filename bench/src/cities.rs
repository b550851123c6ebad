//! The city, and its coordinates, of each of the shared generator's zones.
//!
//! Dependency-free so that `server/benches/slots.rs` includes this same file (by path)
//! and builds the venues exactly as `entente-bench`'s loader does.

/// A city, and its coordinates, for each of the generator's zones: venues in one zone are
/// in one city, so travel checks run between zones as they would between capitals.
pub fn city_of(zone: &str) -> (&'static str, f64, f64) {
    match zone {
        "Europe/Moscow" => ("Moscow", 55.7558, 37.6173),
        "Asia/Tehran" => ("Tehran", 35.6892, 51.3890),
        "Asia/Ashgabat" => ("Ashgabat", 37.9601, 58.3261),
        "America/New_York" => ("New York", 40.7128, -74.0060),
        "Europe/London" => ("London", 51.5072, -0.1276),
        "Asia/Kolkata" => ("New Delhi", 28.6139, 77.2090),
        "Australia/Lord_Howe" => ("Lord Howe Island", -31.5553, 159.0821),
        "America/Sao_Paulo" => ("Brasilia", -15.7939, -47.8828),
        "Europe/Paris" => ("Paris", 48.8566, 2.3522),
        "Asia/Tokyo" => ("Tokyo", 35.6762, 139.6503),
        "Africa/Cairo" => ("Cairo", 30.0444, 31.2357),
        "Asia/Kathmandu" => ("Kathmandu", 27.7172, 85.3240),
        _ => ("Elsewhere", 0.0, 0.0),
    }
}
