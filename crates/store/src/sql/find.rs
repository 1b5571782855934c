//! Users matching an API filter: a [`UserFilter`] compiled to one SQL condition.
//!
//! Every compiled condition is true or false, never null, so that `not` means what
//! [`UserFilter::matches`] means: a comparison on a column without a value is false, `Ne` on it
//! true. The case-folded key columns (names, username, addresses) hold the same lower-casing
//! the filter's values get; other text columns are folded with SQL's `lower`. Comparisons are
//! in byte order, as in Rust: SQLite's own order, PostgreSQL's `collate "C"` ([`BYTE_ORDER`]).

use roster_domain::store::{FindOrder, FoundUser, UserFind};
use roster_domain::user::Cursor;
use roster_domain::user_filter::{Attr, Op, UserFilter, Value};
use roster_domain::StoreError;

use super::listing::LEADING_LETTERS;
use super::rows::{Params, USER_COLUMNS};
use super::{Store, BYTE_ORDER, CONTAINS, DIALECT, ROW_KEY};

/// A column a filter can test, and how its values are held.
enum Column {
    /// Stored case-folded already.
    Key(&'static str),
    /// Free text, folded at query time.
    Text(&'static str),
    /// Text compared with case.
    Exact(&'static str),
    Flag(&'static str),
    Time(&'static str),
    /// The alternate addresses, in their own table.
    Addresses,
}

fn column(attr: Attr) -> Column {
    match attr {
        Attr::Id => Column::Key("id"),
        Attr::Username => Column::Key("username"),
        Attr::DisplayName => Column::Key("display_key"),
        Attr::FirstName => Column::Key("first_key"),
        Attr::LastName => Column::Key("last_key"),
        Attr::FormattedName => Column::Text("formatted_name"),
        Attr::JobTitle => Column::Text("job_title"),
        Attr::Department => Column::Text("department"),
        Attr::Office => Column::Text("office"),
        Attr::OfficePhone => Column::Text("office_phone"),
        Attr::MobilePhone => Column::Text("mobile_phone"),
        Attr::AlternateMobilePhone => Column::Text("alternate_mobile_phone"),
        Attr::Fax => Column::Text("fax"),
        Attr::StreetAddress => Column::Text("street_address"),
        Attr::City => Column::Text("city"),
        Attr::State => Column::Text("state"),
        Attr::PostalCode => Column::Text("postal_code"),
        Attr::Country => Column::Text("country"),
        Attr::AlternateEmail => Column::Addresses,
        Attr::Mail => Column::Text("coalesce(mail, username)"),
        Attr::MailSet => Column::Text("mail"),
        Attr::ExternalId => Column::Exact("external_id"),
        Attr::EmployeeId => Column::Text("employee_id"),
        Attr::CompanyName => Column::Text("company_name"),
        Attr::CostCenter => Column::Text("cost_center"),
        Attr::Division => Column::Text("division"),
        Attr::PreferredLanguage => Column::Text("preferred_language"),
        Attr::Locale => Column::Text("locale"),
        Attr::Manager => Column::Key("manager_id"),
        Attr::Enabled => Column::Flag("enabled"),
        Attr::CreatedAt => Column::Time("created_at"),
        Attr::UpdatedAt => Column::Time("updated_at"),
    }
}

/// `expr op ?` for a folded text expression known not to be null.
fn text_test(expr: &str, op: Op, value: &str, args: &mut Params) -> Result<String, StoreError> {
    let chars = value.chars().count();
    let p = args.push(value.to_string())?;
    Ok(match op {
        Op::Eq => format!("{expr} = {p}"),
        Op::Ne => format!("{expr} <> {p}"),
        Op::StartsWith => format!("substr({expr}, 1, {chars}) = {p}"),
        Op::EndsWith if chars == 0 => format!("({p} = '')"),
        Op::EndsWith => format!("{} = {p}", (DIALECT.ends_with)(expr, chars)),
        Op::Contains => format!("{CONTAINS}({expr}, {p}) > 0"),
        Op::Gt => format!("{expr}{BYTE_ORDER} > {p}"),
        Op::Ge => format!("{expr}{BYTE_ORDER} >= {p}"),
        Op::Lt => format!("{expr}{BYTE_ORDER} < {p}"),
        Op::Le => format!("{expr}{BYTE_ORDER} <= {p}"),
    })
}

fn ord_symbol(op: Op) -> Option<&'static str> {
    Some(match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::StartsWith | Op::EndsWith | Op::Contains => return None,
    })
}

/// The condition for `filter`, its values appended to `args`.
fn condition(filter: &UserFilter, args: &mut Params) -> Result<String, StoreError> {
    Ok(match filter {
        UserFilter::And(all) if all.is_empty() => "true".into(),
        UserFilter::Or(any) if any.is_empty() => "false".into(),
        UserFilter::And(all) => {
            let parts: Result<Vec<String>, StoreError> = all.iter().map(|f| condition(f, args)).collect();
            format!("({})", parts?.join(" and "))
        }
        UserFilter::Or(any) => {
            let parts: Result<Vec<String>, StoreError> = any.iter().map(|f| condition(f, args)).collect();
            format!("({})", parts?.join(" or "))
        }
        UserFilter::Not(inner) => format!("(not {})", condition(inner, args)?),
        UserFilter::Present(attr) => match column(*attr) {
            Column::Key(c) | Column::Text(c) | Column::Exact(c) => format!("({c} is not null and {c} <> '')"),
            Column::Addresses => "exists (select 1 from alternate_emails e where e.user_id = users.id)".into(),
            Column::Flag(_) | Column::Time(_) => "true".into(),
        },
        UserFilter::Compare { attr, op, value } => match (column(*attr), value) {
            (Column::Key(c), Value::Text(v)) => compare_text(c, c, *op, &v.to_lowercase(), args)?,
            (Column::Text(c), Value::Text(v)) => compare_text(c, &format!("lower({c})"), *op, &v.to_lowercase(), args)?,
            (Column::Exact(c), Value::Text(v)) => compare_text(c, c, *op, v, args)?,
            (Column::Addresses, Value::Text(v)) => {
                let wanted = v.to_lowercase();
                if *op == Op::Ne {
                    let p = args.push(wanted)?;
                    format!(
                        "(not exists (select 1 from alternate_emails e where e.user_id = users.id \
                         and e.address_key = {p}))"
                    )
                } else if matches!(op, Op::Eq | Op::StartsWith) {
                    // Found through the addresses' index, keyed on their first three letters,
                    // and joined to users by id: one address among a million users is a lookup,
                    // not a walk of every user.
                    let lead: String = wanted.chars().take(LEADING_LETTERS).collect();
                    let short = wanted.chars().count() < LEADING_LETTERS;
                    let first = format!("substr(e.address_key, 1, {LEADING_LETTERS})");
                    let low = args.push(wanted.clone())?;
                    let range = match op {
                        Op::Eq => format!("{first} = {} and e.address_key = {low}", args.push(lead)?),
                        // A prefix shorter than the leading letters is a range of them.
                        _ if short => {
                            format!("{first} >= {low} and {first} < {}", args.push(format!("{wanted}\u{10FFFF}"))?)
                        }
                        _ => format!(
                            "{first} = {} and e.address_key >= {low} and e.address_key < {}",
                            args.push(lead)?,
                            args.push(format!("{wanted}\u{10FFFF}"))?
                        ),
                    };
                    format!("users.id in (select e.user_id from alternate_emails e where e.active = 1 and {range})")
                } else {
                    let test = text_test("e.address_key", *op, &wanted, args)?;
                    format!("exists (select 1 from alternate_emails e where e.user_id = users.id and {test})")
                }
            }
            (Column::Flag(c), Value::Bool(b)) => match ord_symbol(*op) {
                Some(symbol) => format!("({c} {symbol} {})", args.push(i64::from(*b))?),
                None => "false".into(),
            },
            (Column::Time(c), Value::Time(t)) => match ord_symbol(*op) {
                Some(symbol) => format!("({c} {symbol} {})", args.push(t.millis())?),
                None => "false".into(),
            },
            _ => "false".into(),
        },
    })
}

/// A comparison on a single-valued text column `c`, tested through `expr` (`c` or its folding)
/// against `value`, folded as `expr` is.
fn compare_text(c: &str, expr: &str, op: Op, value: &str, args: &mut Params) -> Result<String, StoreError> {
    let test = text_test(expr, op, value, args)?;
    Ok(if op == Op::Ne {
        format!("({c} is null or {c} = '' or {test})")
    } else {
        format!("({c} is not null and {c} <> '' and {test})")
    })
}

/// The order's key column and whether it needs the id as tie-break.
fn order_column(order: FindOrder) -> (&'static str, bool) {
    match order {
        FindOrder::Id => (ROW_KEY, false),
        FindOrder::DisplayName => ("display_key", true),
        FindOrder::Username => ("username", false),
    }
}

/// One page of the users `find` asks for, with their cursors.
pub(crate) async fn find_users(store: &Store, find: &UserFind) -> Result<Vec<FoundUser>, StoreError> {
    let mut args = Params::default();
    let mut page =
        format!("select {ROW_KEY} as row_key, display_key, {USER_COLUMNS} from users where deleted_at is null");
    if let Some(filter) = &find.filter {
        page.push_str(" and ");
        page.push_str(&condition(filter, &mut args)?);
    }
    let (key, tiebreak) = order_column(find.order);
    let (dir, cmp) = if find.descending { ("desc", "<") } else { ("asc", ">") };
    if let Some(cursor) = &find.after {
        let k = args.push(cursor.key.clone())?;
        if tiebreak {
            let id = args.push(cursor.id.to_string())?;
            page.push_str(&format!(" and ({key}, id) {cmp} ({k}, {id})"));
        } else if find.order == FindOrder::Id {
            page.push_str(&format!(" and {}", (DIALECT.row_key_after)(cmp, &k)));
        } else {
            page.push_str(&format!(" and {key} {cmp} {k}"));
        }
    }
    let order = if tiebreak { format!("{key} {dir}, id {dir}") } else { format!("{key} {dir}") };
    let limit = args.push(i64::from(find.limit))?;
    let offset = args.push(i64::try_from(find.offset).unwrap_or(i64::MAX))?;
    page.push_str(&format!(" order by {order} limit {limit} offset {offset}"));
    store
        .read_found(&page, args, &order)
        .await?
        .into_iter()
        .map(|(user, row_key)| {
            let key = match find.order {
                FindOrder::Id => row_key,
                FindOrder::DisplayName => roster_domain::user::sort_key(&user.contact.display_name),
                FindOrder::Username => user.username.as_str().to_string(),
            };
            Ok(FoundUser { cursor: Cursor { key, id: user.id }, user })
        })
        .collect()
}

/// How many active users match `filter`.
pub(crate) async fn count_found(store: &Store, filter: Option<&UserFilter>) -> Result<u64, StoreError> {
    let mut args = Params::default();
    let mut sql = String::from("select count(*) from users where deleted_at is null");
    if let Some(filter) = filter {
        sql.push_str(" and ");
        sql.push_str(&condition(filter, &mut args)?);
    }
    let count: i64 = sqlx::query_scalar_with(&sql, args.into_arguments()).fetch_one(store.reader()).await?;
    Ok(count as u64)
}
