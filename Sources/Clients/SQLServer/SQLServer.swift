// The SQL Server client over FreeTDS db-lib. (Being written: see SQLServerConnection.swift.)
import CFreeTDS
