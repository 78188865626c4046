-- The demo's destination: a warehouse table that already holds a few contacts.
CREATE TABLE contacts (
  email TEXT PRIMARY KEY,
  first_name TEXT,
  last_name TEXT,
  company TEXT,
  stage TEXT,
  age INTEGER,
  synced_from TEXT
);
INSERT INTO contacts VALUES ('chloe.silva101@northwind.io','Chloe','Silva','Hooli','lead',33,'crm');
INSERT INTO contacts VALUES ('greta.silva102@northwind.io','Greta','Silva','Globex','customer',37,'crm');
INSERT INTO contacts VALUES ('wim.silva103@northwind.io','Wim','Silva','Wayne Enterprises','customer',60,'crm');
INSERT INTO contacts VALUES ('ines.patel104@northwind.io','Ines','Patel','"Quoted" Ltd','customer',26,'crm');
INSERT INTO contacts VALUES ('xenia.schmidt105@northwind.io','Xenia','Schmidt','"Quoted" Ltd','customer',43,'crm');
