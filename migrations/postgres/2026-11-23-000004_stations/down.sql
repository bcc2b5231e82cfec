DROP TABLE station_feedback;
DROP TABLE station_visit_windows;
DROP TABLE station_visits;
DROP TABLE stations_version;
DROP TABLE stations;
