// sqlx::migrate! embeds the migration files at compile time; without this line a new migration
// may not trigger a rebuild, and a binary could ship without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
