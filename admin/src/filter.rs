//! `teaminbox-admin filter ...`: the allow and deny lists.

use crate::{
    cli::{FilterCommand, FilterEntry, ListName},
    output, AdminError, AdminResult,
};
use teaminbox_store::settings::list_entry::FilterValue;
use teaminbox_store::{model::FilterList, settings::ListEntry, Store, StoreError};

pub fn run(command: FilterCommand, store: &Store) -> AdminResult {
    match command {
        FilterCommand::Add(entry) => add(entry, store),
        FilterCommand::Remove(entry) => remove(entry, store),
        FilterCommand::List(args) => {
            let filters = store.settings().filters(args.list.map(list))?;
            if args.json.json {
                output::json(&filters);
            } else {
                let rows = filters.iter().map(row).collect::<Vec<_>>();
                output::table(&HEADER, &rows);
            }
            Ok(())
        }
    }
}

const HEADER: [&str; 5] = ["ID", "LIST", "KIND", "VALUE", "ADDED (UTC)"];

fn row(f: &ListEntry) -> Vec<String> {
    vec![
        f.id.to_string(),
        f.list.to_string(),
        f.kind.to_string(),
        f.value.clone(),
        f.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
    ]
}

fn list(name: ListName) -> FilterList {
    match name {
        ListName::Allow => FilterList::Allow,
        ListName::Deny => FilterList::Deny,
    }
}

fn other(list: FilterList) -> FilterList {
    match list {
        FilterList::Allow => FilterList::Deny,
        FilterList::Deny => FilterList::Allow,
    }
}

/// Whether `value` is on `list`.
fn listed(store: &Store, list: FilterList, value: &FilterValue) -> Result<bool, AdminError> {
    let text = value.to_string();
    Ok(store
        .settings()
        .filters(Some(list))?
        .iter()
        .any(|f| f.kind == value.kind() && f.value == text))
}

fn add(entry: FilterEntry, store: &Store) -> AdminResult {
    let list = list(entry.list);
    let value = FilterValue::parse(&entry.value).map_err(AdminError::Usage)?;
    let filter = store
        .settings()
        .add_filter(list, value.kind(), &value.to_string())?;
    if entry.json.json {
        output::json(&filter);
    } else {
        let note = if listed(store, other(list), &value)? {
            format!(
                " It is also on the {} list; the deny list wins.",
                other(list)
            )
        } else {
            String::new()
        };
        println!(
            "Added {} {} to the {list} list.{note}",
            filter.kind, filter.value
        );
    }
    Ok(())
}

fn remove(entry: FilterEntry, store: &Store) -> AdminResult {
    let list = list(entry.list);
    let value = FilterValue::parse(&entry.value).map_err(AdminError::Usage)?;
    match store
        .settings()
        .remove_filter(list, value.kind(), &value.to_string())
    {
        Ok(()) => {}
        Err(StoreError::NotFound(message)) if listed(store, other(list), &value)? => {
            return Err(AdminError::Refused(format!(
                "{message} (it is on the {} list)",
                other(list)
            )));
        }
        Err(e) => return Err(e.into()),
    }
    if entry.json.json {
        output::json(&serde_json::json!({
            "list": list,
            "kind": value.kind(),
            "value": value.to_string(),
        }));
    } else {
        println!("Removed {} {value} from the {list} list.", value.kind());
    }
    Ok(())
}
