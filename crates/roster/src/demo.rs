//! Realistic sample people: names, jobs, offices and phone numbers from several countries.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roster_domain::contact::ContactInfo;
use roster_domain::user::{User, UserId, Username};
use roster_domain::{Actor, Directory, RoleSet, Timestamp};

const FIRST: &[&str] = &[
    "Aaron",
    "Abigail",
    "Adele",
    "Adrian",
    "Agnes",
    "Aiden",
    "Aisha",
    "Akira",
    "Alan",
    "Alex",
    "Alexandra",
    "Alice",
    "Alina",
    "Allan",
    "Amara",
    "Amelia",
    "Ana",
    "Anders",
    "Andrea",
    "Andrew",
    "Anika",
    "Anna",
    "Anton",
    "Aoife",
    "Arjun",
    "Astrid",
    "Ava",
    "Beatriz",
    "Ben",
    "Bianca",
    "Boris",
    "Brian",
    "Bruno",
    "Camila",
    "Carla",
    "Carlos",
    "Carmen",
    "Caroline",
    "Catalina",
    "Cecilia",
    "Chen",
    "Chiara",
    "Chloé",
    "Christie",
    "Claire",
    "Clara",
    "Colin",
    "Connor",
    "Daniel",
    "Daria",
    "David",
    "Deepa",
    "Diana",
    "Diego",
    "Dmitri",
    "Elena",
    "Eli",
    "Elif",
    "Elise",
    "Emil",
    "Emily",
    "Emma",
    "Enzo",
    "Erik",
    "Esther",
    "Ethan",
    "Eva",
    "Fatima",
    "Felix",
    "Finn",
    "Fiona",
    "Florian",
    "Freya",
    "Gabriel",
    "Grace",
    "Grady",
    "Greta",
    "Hana",
    "Hannah",
    "Hassan",
    "Helena",
    "Henrietta",
    "Hiro",
    "Hugo",
    "Ibrahim",
    "Ines",
    "Ingrid",
    "Isaac",
    "Isaiah",
    "Isabel",
    "Ivan",
    "Jack",
    "Jana",
    "Javier",
    "Jin",
    "Joni",
    "Jonas",
    "Jorge",
    "Julia",
    "Jun",
    "Kai",
    "Karin",
    "Karthik",
    "Katya",
    "Kenji",
    "Kiara",
    "Lara",
    "Laura",
    "Lee",
    "Leila",
    "Leo",
    "Lidia",
    "Lina",
    "Liam",
    "Lucas",
    "Lucia",
    "Luis",
    "Lynne",
    "Maja",
    "Malik",
    "Marco",
    "Maria",
    "Marta",
    "Mateo",
    "Megan",
    "Mei",
    "Mia",
    "Mikhail",
    "Miriam",
    "Nadia",
    "Naomi",
    "Nestor",
    "Nikhil",
    "Nina",
    "Noah",
    "Nora",
    "Olga",
    "Oliver",
    "Omar",
    "Oscar",
    "Patti",
    "Paula",
    "Pedro",
    "Pradeep",
    "Priya",
    "Rafael",
    "Raúl",
    "Ravi",
    "Rosa",
    "Ruth",
    "Sakura",
    "Samir",
    "Sanjay",
    "Sara",
    "Sebastian",
    "Sofia",
    "Søren",
    "Stefan",
    "Tara",
    "Theo",
    "Tomás",
    "Valentina",
    "Victor",
    "Wei",
    "Yara",
    "Yuki",
    "Yusuf",
    "Zainab",
    "Zoë",
];
const LAST: &[&str] = &[
    "Abe",
    "Adams",
    "Afolabi",
    "Ahmed",
    "Akhtar",
    "Alvarez",
    "Andersen",
    "Anderson",
    "Bailey",
    "Baker",
    "Banerjee",
    "Bauer",
    "Becker",
    "Bennett",
    "Bernard",
    "Bianchi",
    "Bowen",
    "Brown",
    "Bruno",
    "Campbell",
    "Carter",
    "Castro",
    "Chen",
    "Clark",
    "Cohen",
    "Collins",
    "Cooper",
    "Costa",
    "Cruz",
    "Das",
    "Davies",
    "Davis",
    "Deyoung",
    "Diaz",
    "Dubois",
    "Dupont",
    "Edwards",
    "Evans",
    "Fernández",
    "Fischer",
    "Fontaine",
    "Fraser",
    "García",
    "Gómez",
    "Gonzalez",
    "Gray",
    "Green",
    "Greene",
    "Gu",
    "Gupta",
    "Hall",
    "Hansen",
    "Harris",
    "Hayashi",
    "Hernández",
    "Hoffmann",
    "Hughes",
    "Ibrahim",
    "Ito",
    "Jackson",
    "James",
    "Jansen",
    "Jensen",
    "Johansson",
    "Johnson",
    "Jones",
    "Kato",
    "Kaur",
    "Keller",
    "Kelly",
    "Khan",
    "Kim",
    "Klein",
    "Kobayashi",
    "Kowalski",
    "Kumar",
    "Larsen",
    "Laurent",
    "Lee",
    "Lefebvre",
    "Levy",
    "Lewis",
    "Li",
    "Lindqvist",
    "Liu",
    "Lopez",
    "Martin",
    "Martínez",
    "Mehta",
    "Meyer",
    "Miller",
    "Mitchell",
    "Moore",
    "Morales",
    "Moreau",
    "Morris",
    "Müller",
    "Murphy",
    "Nakamura",
    "Nasser",
    "Nguyen",
    "Nielsen",
    "Novak",
    "Nowak",
    "O'Brien",
    "O'Connor",
    "Okafor",
    "Olsen",
    "Ortiz",
    "Park",
    "Patel",
    "Perez",
    "Petrov",
    "Pham",
    "Phillips",
    "Popescu",
    "Quinn",
    "Ramos",
    "Rao",
    "Reddy",
    "Reyes",
    "Richter",
    "Rivera",
    "Roberts",
    "Robinson",
    "Rodriguez",
    "Romano",
    "Rossi",
    "Russo",
    "Sato",
    "Schmidt",
    "Schneider",
    "Schulz",
    "Scott",
    "Shah",
    "Sharma",
    "Silva",
    "Singh",
    "Smith",
    "Sokolov",
    "Suzuki",
    "Svensson",
    "Tanaka",
    "Taylor",
    "Thomas",
    "Thompson",
    "Tran",
    "Turner",
    "Van Dijk",
    "Vance",
    "Vargas",
    "Vasquez",
    "Volkov",
    "Wagner",
    "Walker",
    "Wang",
    "Watanabe",
    "Weber",
    "White",
    "Wilber",
    "Williams",
    "Wilson",
    "Wright",
    "Wu",
    "Yamamoto",
    "Yang",
    "Young",
    "Zhang",
    "Zimmermann",
];
const DEPARTMENTS: &[(&str, &[&str])] = &[
    ("Sales", &["Account Executive", "Sales Manager", "Sales Development Representative"]),
    ("Finance", &["Accountant", "Financial Analyst", "Controller"]),
    ("Engineering", &["Software Engineer", "Engineering Manager", "Site Reliability Engineer"]),
    ("Human Resources", &["HR Generalist", "Recruiter", "HR Business Partner"]),
    ("Marketing", &["Marketing Manager", "Content Strategist", "Product Marketing Manager"]),
    ("IT", &["IT Administrator", "Helpdesk Technician", "Systems Engineer"]),
    ("Legal", &["Counsel", "Paralegal"]),
    ("Operations", &["Operations Manager", "Logistics Coordinator", "Facilities Manager"]),
];
/// Office city, state, country, and a generator for a valid local mobile number (E.164).
type Office = (&'static str, &'static str, &'static str, &'static str, fn(&mut StdRng) -> String);
const OFFICES: &[Office] = &[
    ("Redmond", "WA", "98052", "United States", us_number),
    ("New York", "NY", "10001", "United States", us_number),
    ("London", "", "EC1A 1BB", "United Kingdom", uk_mobile),
    ("Berlin", "", "10115", "Germany", de_mobile),
    ("Paris", "", "75001", "France", fr_mobile),
    ("Tokyo", "", "100-0005", "Japan", jp_mobile),
];
const PERSONAL_DOMAINS: &[&str] = &["fabrikam.com", "northwindtraders.com", "adatum.com", "litware.com"];
const US_AREA_CODES: &[u16] = &[201, 206, 212, 310, 312, 415, 425, 512, 617, 646, 702, 718];

fn digits(rng: &mut StdRng, n: u32) -> u64 {
    rng.gen_range(0..10u64.pow(n))
}

fn us_number(rng: &mut StdRng) -> String {
    let area = US_AREA_CODES[rng.gen_range(0..US_AREA_CODES.len())];
    format!("+1{area}{}{:06}", rng.gen_range(2..10), digits(rng, 6))
}

/// UK mobile ranges (077x–079x); 076 is pagers, and much of 070–075 is not mobile at all.
const UK_MOBILE_PREFIXES: &[&str] =
    &["771", "772", "773", "774", "775", "784", "785", "786", "787", "795", "796", "797"];

fn uk_mobile(rng: &mut StdRng) -> String {
    format!("+44{}{:07}", UK_MOBILE_PREFIXES[rng.gen_range(0..UK_MOBILE_PREFIXES.len())], digits(rng, 7))
}

fn de_mobile(rng: &mut StdRng) -> String {
    format!("+4915{}{:08}", [1, 2, 7][rng.gen_range(0..3)], digits(rng, 8))
}

fn fr_mobile(rng: &mut StdRng) -> String {
    format!("+336{}{:07}", [0, 1, 2, 4, 5, 6, 7, 8][rng.gen_range(0..8)], digits(rng, 7))
}

fn jp_mobile(rng: &mut StdRng) -> String {
    format!("+81{}0{}{:07}", [7, 8, 9][rng.gen_range(0..3)], rng.gen_range(1..10), digits(rng, 7))
}

fn ascii_alias(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'á' | 'à' => 'a',
            'é' | 'è' => 'e',
            'í' => 'i',
            'ó' | 'ø' => 'o',
            'ú' | 'ü' => 'u',
            'ë' => 'e',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

/// One sample person; `n` makes the username unique.
pub fn person(rng: &mut StdRng, n: u64, now: Timestamp) -> User {
    let first = FIRST[rng.gen_range(0..FIRST.len())];
    let last = LAST[rng.gen_range(0..LAST.len())];
    let (department, titles) = DEPARTMENTS[rng.gen_range(0..DEPARTMENTS.len())];
    let (city, state, postal, country, mobile) = OFFICES[rng.gen_range(0..OFFICES.len())];
    let alias = format!("{}.{}{n}", ascii_alias(first), ascii_alias(last));
    let alternate_emails = if rng.gen_bool(0.6) {
        vec![format!("{alias}@{}", PERSONAL_DOMAINS[rng.gen_range(0..PERSONAL_DOMAINS.len())])]
    } else {
        Vec::new()
    };
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    User {
        id: UserId::random(),
        username: Username::from_stored(format!("{alias}@contoso.com")),
        contact: ContactInfo {
            display_name: format!("{first} {last}"),
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            job_title: Some(titles[rng.gen_range(0..titles.len())].into()),
            department: Some(department.into()),
            office: Some(format!("{city} {}", rng.gen_range(1..40))),
            office_phone: rng.gen_bool(0.5).then(|| mobile(rng)),
            mobile_phone: rng.gen_bool(0.85).then(|| mobile(rng)),
            alternate_mobile_phone: rng.gen_bool(0.1).then(|| mobile(rng)),
            fax: None,
            alternate_emails,
            street_address: Some(format!("{} Main Street", rng.gen_range(1..400))),
            city: Some(city.into()),
            state: opt(state),
            postal_code: Some(postal.into()),
            country: Some(country.into()),
            employee_id: Some(format!("{}", 100_000 + rng.gen_range(0..900_000))),
            company_name: Some("Contoso".into()),
            ..ContactInfo::default()
        },
        roles: RoleSet::NONE,
        enabled: rng.gen_bool(0.97),
        must_change_password: false,
        created_at: now,
        updated_at: now,
        updated_by: "Sample data".into(),
        version: 1,
        deleted_at: None,
        external_id: None,
    }
}

/// People generated (and, into a directory that already has users, committed) at a time.
const BATCH: usize = 10_000;

/// Adds `count` sample people, reporting progress after each batch.
pub async fn load(
    directory: &Directory,
    actor: &Actor,
    count: usize,
    mut progress: impl FnMut(usize) + Send,
) -> anyhow::Result<()> {
    let offset = directory.store().count_users().await?;
    let mut rng = StdRng::from_entropy();
    let now = Timestamp::now();
    let mut done = 0;
    let mut batches = std::iter::from_fn(|| {
        if done >= count {
            return None;
        }
        let size = BATCH.min(count - done);
        let batch: Vec<User> = (0..size).map(|i| person(&mut rng, offset + (done + i) as u64 + 1, now)).collect();
        done += size;
        progress(done);
        Some(batch)
    });
    directory.create_users_bulk(actor, count, &mut batches).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use roster_domain::contact::ValidationContext;
    use roster_domain::phone::Region;

    use super::*;

    #[test]
    fn sample_people_pass_the_same_validation_as_the_form() {
        let mut rng = StdRng::seed_from_u64(7);
        for n in 0..2000 {
            let user = person(&mut rng, n, Timestamp(0));
            Username::parse(user.username.as_str()).unwrap();
            let ctx = ValidationContext { region: Region::default(), username: user.username.as_str() };
            let checked = user.contact.to_input().validate(ctx).unwrap_or_else(|e| panic!("{:?} {e:?}", user.contact));
            assert_eq!(checked, user.contact, "{n}");
        }
    }
}
