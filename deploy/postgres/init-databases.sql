-- One database per service (no service reads another's).
CREATE DATABASE registry OWNER lianxin;
CREATE DATABASE intake OWNER lianxin;
CREATE DATABASE routing OWNER lianxin;
CREATE DATABASE reporting OWNER lianxin;
