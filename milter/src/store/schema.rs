//! The diesel schema, shared by SQLite and PostgreSQL. Only `store` uses it.

diesel::table! {
    channels (id) {
        id -> BigInt,
        name -> Text,
        company -> Text,
        forwarding_address -> Text,
        status -> Text,
        enabled -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    inbound_messages (id) {
        id -> BigInt,
        queue_id -> Nullable<Text>,
        received_at -> Timestamp,
        client_address -> Nullable<Text>,
        client_name -> Text,
        helo -> Text,
        mail_from -> Text,
        message_size -> BigInt,
        raw_message -> Binary,
        state -> Text,
        claimed_by -> Nullable<Text>,
        claimed_at -> Nullable<Timestamp>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        spf -> Nullable<Text>,
        dkim -> Nullable<Text>,
        arc -> Nullable<Text>,
        dmarc -> Nullable<Text>,
        spam -> Bool,
        header_from -> Nullable<Text>,
    }
}

diesel::table! {
    inbound_recipients (inbound_message_id, address) {
        inbound_message_id -> BigInt,
        address -> Text,
        channel_id -> BigInt,
    }
}

diesel::joinable!(inbound_recipients -> inbound_messages (inbound_message_id));
diesel::joinable!(inbound_recipients -> channels (channel_id));
diesel::allow_tables_to_appear_in_same_query!(
    channels,
    inbound_messages,
    inbound_recipients,
    rejections,
    filters,
);

diesel::table! {
    rejections (id) {
        id -> BigInt,
        rejected_at -> Timestamp,
        queue_id -> Nullable<Text>,
        client_address -> Nullable<Text>,
        client_name -> Text,
        helo -> Text,
        mail_from -> Text,
        header_from -> Nullable<Text>,
        recipients -> Text,
        smtp_code -> Text,
        enhanced_code -> Text,
        reason -> Text,
    }
}

diesel::table! {
    filters (id) {
        id -> BigInt,
        list -> Text,
        kind -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}
