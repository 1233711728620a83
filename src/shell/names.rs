//! Readable names for containers run without `--name`: `adjective_noun`, as docker does.

/// 50 adjectives x 50 nouns = 2,500 names before a number is appended.
const ADJECTIVES: &[&str] = &[
    "agile", "amber", "bold", "brave", "brisk", "calm", "clever", "cosmic", "crisp", "curious",
    "daring", "eager", "fancy", "fearless", "gentle", "glad", "golden", "happy", "hardy", "honest",
    "humble", "jolly", "keen", "kind", "lively", "lucid", "lucky", "mellow", "merry", "mighty",
    "nimble", "noble", "patient", "plucky", "polite", "proud", "quick", "quiet", "rapid", "serene",
    "sharp", "shiny", "steady", "sunny", "swift", "tidy", "vivid", "warm", "witty", "zesty",
];

const NOUNS: &[&str] = &[
    "otter", "falcon", "badger", "beaver", "bison", "cobra", "condor", "crane", "dingo", "eagle",
    "ferret", "finch", "gecko", "gibbon", "heron", "ibex", "jackal", "koala", "lemur", "lynx",
    "marmot", "marten", "mole", "moose", "newt", "ocelot", "oriole", "osprey", "panda", "parrot",
    "pelican", "puffin", "quokka", "raven", "robin", "salmon", "seal", "shrew", "sparrow", "stoat",
    "swan", "tapir", "tern", "toucan", "viper", "walrus", "weasel", "wombat", "wren", "yak",
];

/// A small xorshift generator seeded from the clock and the pid: names need to be varied, not
/// unpredictable.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Rng((t ^ ((std::process::id() as u64) << 32)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[(self.next() % list.len() as u64) as usize]
    }
}

/// A name of the form `adjective_noun` for which `taken` is false. After 100 random tries
/// (the table is nearly full) a number is appended: `adjective_noun_2`, `_3`, ...
pub fn generate(taken: impl Fn(&str) -> bool) -> String {
    let mut rng = Rng::new();
    for _ in 0..100 {
        let name = format!("{}_{}", rng.pick(ADJECTIVES), rng.pick(NOUNS));
        if !taken(&name) {
            return name;
        }
    }
    let base = format!("{}_{}", rng.pick(ADJECTIVES), rng.pick(NOUNS));
    (2u64..)
        .map(|n| format!("{base}_{n}"))
        .find(|n| !taken(n))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_adjective_underscore_noun_and_valid_ids() {
        let n = generate(|_| false);
        let (a, b) = n.split_once('_').unwrap();
        assert!(ADJECTIVES.contains(&a), "{n}");
        assert!(NOUNS.contains(&b), "{n}");
        crate::container::id::validate(&n).unwrap();
    }

    #[test]
    fn taken_names_are_skipped() {
        let taken = ["calm_otter".to_string()];
        for _ in 0..50 {
            assert_ne!(generate(|n| taken.iter().any(|t| t == n)), "calm_otter");
        }
    }

    #[test]
    fn a_full_table_falls_back_to_a_number() {
        let n = generate(|n| !n.ends_with("_2"));
        assert!(n.ends_with("_2"), "{n}");
        assert_eq!(n.matches('_').count(), 2);
    }

    #[test]
    fn tables_have_no_duplicates() {
        for list in [ADJECTIVES, NOUNS] {
            let mut v = list.to_vec();
            v.sort();
            v.dedup();
            assert_eq!(v.len(), list.len());
        }
    }
}
