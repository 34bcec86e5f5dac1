-- One database per service: no service reads another's tables.
CREATE DATABASE identity;
CREATE DATABASE catalog;
CREATE DATABASE "case";
-- Wenzhou's own case-svc (tier routing): its cases live there alone.
CREATE DATABASE case_wenzhou;
CREATE DATABASE rating;
CREATE DATABASE exchange;
