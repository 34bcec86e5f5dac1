-- One database per service: no service reads another's tables.
CREATE DATABASE identity;
CREATE DATABASE catalog;
CREATE DATABASE "case";
CREATE DATABASE rating;
CREATE DATABASE exchange;
