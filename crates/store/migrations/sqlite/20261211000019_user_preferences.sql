-- What each person chose for themselves in the admin center (the columns Active users shows
-- them), by name; gone with the person.
create table user_preferences (
    user_id text not null references users (id) on delete cascade,
    name text not null,
    value text not null,
    primary key (user_id, name)
);
